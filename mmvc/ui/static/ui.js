// Thumbnails that cannot be drawn (an undecodable item) become a plain label instead of a broken image.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("img.thumb").forEach(function (img) {
    img.addEventListener("error", function () {
      var box = document.createElement("div");
      box.className = "thumb none";
      box.textContent = "no preview";
      img.replaceWith(box);
    });
  });
});
