"""`mmvc ui` over HTTP: every page and its JSON twin, thumbnails and their cache, raw bytes, and
bad input answered with an error page and a status code, never a traceback or a file outside
the store."""

from __future__ import annotations

import os
from urllib.parse import quote

import pytest

from mmvc.core.layout import Layout
from tests.ui.conftest import fetch

PAGES = ["/", "/grid?rev=main", "/grid?rev=main&page=1&per_page=3", "/grid?rev=side", "/item?rev=main&key=images/a.png",
         "/item?rev=main&key=video/clip.mp4", "/curation?rev=main", "/curation?rev=main~1", "/diff?a=main~1&b=main",
         "/diff?a=side&b=main", "/search?rev=main", "/search?rev=main&q=a%20photo%20of%20a%20cat", "/datasheet?rev=main",
         "/grid?rev=main&where=" + quote("modality = 'image'")]


def _api(page: str) -> str:
    return "/api/versions" if page == "/" else "/api" + page


@pytest.mark.parametrize("page", PAGES)
def test_every_page_and_its_json_twin_answer(ui_server, page):
    html = fetch(ui_server, page)
    assert html.status == 200, html.text[:500]
    assert html.content_type.startswith("text/html")
    assert "Traceback" not in html.text
    api = fetch(ui_server, _api(page))
    assert api.status == 200, api.text[:500]
    assert api.content_type == "application/json"
    assert isinstance(api.json(), dict)


def test_versions_lists_branches_tags_and_counts_per_modality(ui_server):
    d = fetch(ui_server, "/api/versions").json()
    assert {b["name"] for b in d["branches"]} == {"main", "side"}
    assert [c["subject"] for c in d["commits"]] == ["more items", "first cut"]
    newest = d["commits"][0]
    assert set(newest["by_modality"]) == {"text", "image", "audio", "video"}
    assert newest["items"] == sum(m["items"] for m in newest["by_modality"].values())
    assert newest["gate"] == "gated" and newest["curation"]
    assert newest["evals"] == {"mmlu": {"runs": 1, "means": {"acc": 0.61}}} and d["commits"][1]["evals"] == {}
    assert "acc=0.61" in fetch(ui_server, "/").text


def test_grid_pages_through_the_version_in_key_order(ui_server, ui_repo):
    keys = [e.path for e in ui_repo.ls_files("main")]
    seen = []
    page = 1
    while True:
        d = fetch(ui_server, f"/api/grid?rev=main&per_page=3&page={page}").json()
        assert d["total"] == len(keys)
        seen += [it["key"] for it in d["items"]]
        if not d["next"]:
            break
        page += 1
    assert seen == keys and page == d["pages"]
    assert "images/z-copy.png" not in keys and "text/empty.txt" not in keys  # the duplicate and the rejected item stay out


def test_filter_uses_the_catalog_language(ui_server):
    d = fetch(ui_server, "/api/grid?rev=main&where=" + quote("modality = 'image' AND width >= 100")).json()
    assert [it["key"] for it in d["items"]] == ["images/b.png"]
    assert d["total"] == 1


def test_curation_shows_the_duplicate_pair_and_the_rejection(ui_server):
    d = fetch(ui_server, "/api/curation?rev=main~1").json()
    [cluster] = d["duplicates"]
    assert cluster["kept"]["key"] == "images/a.png"
    assert [x["key"] for x in cluster["dropped"]] == ["images/z-copy.png"]
    assert cluster["dropped"][0]["tier"] == "exact"
    assert any(r["key"] == "text/empty.txt" for rows in d["rejected"].values() for r in rows)
    assert d["by_reason"] and d["counts"]["duplicate"] == 1


def test_diff_lists_the_added_items_with_thumbnails(ui_server):
    d = fetch(ui_server, "/api/diff?a=main~1&b=main").json()
    assert [c["path"] for c in d["changes"]["added"]] == ["images/c.png", "text/more.txt"]
    assert d["by_modality"]["image"]["added"] == 1 and d["by_modality"]["text"]["added"] == 1
    assert all(c["new"]["thumb"] for c in d["changes"]["added"])


def test_search_returns_hits_per_family(ui_server):
    d = fetch(ui_server, "/api/search?rev=main&q=" + quote("birds in the garden")).json()
    fams = {f["family"]: f for f in d["families"]}
    assert fams["text"]["hits"] and fams["clip"]["hits"]
    assert {h["modality"] for h in fams["text"]["hits"]} <= {"text", "audio"}


def test_search_by_uploaded_image(ui_server, ui_repo):
    with open(os.path.join(ui_repo.root, "images", "a.png"), "rb") as f:
        picture = f.read()
    boundary = "mmvcboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"q.png\"\r\nContent-Type: image/png\r\n\r\n"
            ).encode() + picture + f"\r\n--{boundary}--\r\n".encode()
    r = fetch(ui_server, "/api/search?rev=main", {"Content-Type": f"multipart/form-data; boundary={boundary}"}, body)
    assert r.status == 200, r.text
    [clip] = r.json()["families"]
    assert clip["family"] == "clip" and clip["hits"][0]["key"] == "images/a.png"


@pytest.mark.parametrize("key, modality", [("images/b.png", "image"), ("video/clip.mp4", "video"), ("audio/tone.wav", "audio"),
                                           ("text/story.txt", "text")])
def test_thumbnails_are_jpeg_cached_on_disk_and_revalidated(ui_server, ui_repo, key, modality):
    it = fetch(ui_server, "/api/item?rev=main&key=" + quote(key)).json()["item"]
    assert it["modality"] == modality
    first = fetch(ui_server, it["thumb"])
    assert first.status == 200 and first.content_type == "image/jpeg"
    assert first.body[:3] == b"\xff\xd8\xff"
    assert "immutable" in first.headers["cache-control"]
    path = ui_repo.layout.ui_thumbnail(256, it["oid"])
    assert os.path.exists(path)
    again = fetch(ui_server, it["thumb"])
    assert again.headers["x-thumbnail-cache"] == "hit" and again.body == first.body
    assert fetch(ui_server, it["thumb"], {"If-None-Match": first.headers["etag"]}).status == 304
    small = fetch(ui_server, it["thumb"] + "&size=128")
    assert small.status == 200 and os.path.exists(ui_repo.layout.ui_thumbnail(128, it["oid"]))


def test_a_thumbnail_is_rendered_once(ui_server, ui_repo):
    oid = ui_repo.item("images/c.png", "main").oid
    path = ui_repo.layout.ui_thumbnail(128, oid)
    if os.path.exists(path):
        os.unlink(path)
    assert fetch(ui_server, f"/thumb/{oid}?m=image&size=128").headers["x-thumbnail-cache"] == "miss"
    assert fetch(ui_server, f"/thumb/{oid}?m=image&size=128").headers["x-thumbnail-cache"] == "hit"


def test_raw_serves_the_items_bytes_and_a_download(ui_server, ui_repo):
    r = fetch(ui_server, "/raw?rev=main&key=audio/tone.wav")
    with open(os.path.join(ui_repo.root, "audio", "tone.wav"), "rb") as f:
        assert r.body == f.read()
    assert r.content_type.startswith("audio/")
    d = fetch(ui_server, "/raw?rev=main&key=images/a.png&download=1")
    assert d.headers["content-disposition"].startswith("attachment") and d.content_type == "image/png"


@pytest.mark.parametrize("path, status", [
    ("/grid?rev=no-such-branch", 404),
    ("/api/grid?rev=no-such-branch", 404),
    ("/diff?a=main&b=nope", 404),
    ("/item?rev=main&key=../../etc/passwd", 400),
    ("/raw?rev=main&key=../../../etc/passwd", 400),
    ("/raw?rev=main&key=%2Fetc%2Fpasswd", 400),
    ("/raw?rev=main&key=images/nope.png", 404),
    ("/raw?rev=..%2F..%2Fetc%2Fpasswd&key=images/a.png", 404),
    ("/static/../../../etc/passwd", 404),
    ("/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd", 404),
    ("/datasheet-plot/..%2F..%2Fetc/passwd", 404),
    ("/grid?rev=main&page=99999999", 404),
    ("/grid?rev=main&page=999999999999999999999", 400),
    ("/grid?rev=main&page=-1", 400),
    ("/grid?rev=main&page=two", 400),
    ("/api/grid?rev=main&per_page=100000", 400),
    ("/grid?rev=main&where=" + quote("width >>= 3 AND"), 400),
    ("/api/grid?rev=main&where=" + quote("no_such_column = 1"), 400),
    ("/api/search?rev=main&q=x&modality=smell", 400),
    ("/thumb/" + "0" * 64 + "?m=image", 404),
    ("/thumb/..%2F..%2Fconfig.toml", 404),
    ("/thumb/" + "a" * 10, 404),
    ("/diff?a=main", 400),
    ("/no/such/page", 404),
])
def test_bad_input_is_a_clear_error_page_never_a_traceback(ui_server, path, status):
    r = fetch(ui_server, path)
    assert r.status == status, r.text[:400]
    assert "Traceback" not in r.text and "root:x:0:0" not in r.text
    if path.startswith(("/api/", "/thumb/")):
        err = r.json()
        assert err["status"] == status and err["error"]
    else:
        assert r.content_type.startswith("text/html")
        assert 'id="error"' in r.text


def test_what_the_ui_writes_under_mmvc_is_described_by_the_layout(ui_server, ui_repo):
    fetch(ui_server, "/datasheet?rev=main")
    files = Layout(ui_repo.layout.dir).files()
    ui_files = [f for f in files if f.startswith("ui/")]
    assert any(f.startswith("ui/thumbs/") for f in ui_files) and any(f.startswith("ui/datasheets/") for f in ui_files)
    assert [f for f in ui_files if files[f] is None] == []
