"""`mmvc ui` driven in a real headless browser (Debian's chromium through chromedriver and
selenium): the pages render, link to one another, load their thumbnails, and log no error to
the console. Screenshots of each page are kept as test artefacts (the folder is printed)."""

from __future__ import annotations

import os
import shutil

import pytest

webdriver = pytest.importorskip("selenium.webdriver")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver")


@pytest.fixture(scope="module")
def shots(tmp_path_factory, request):
    """The folder screenshots go to: $MMVC_TEST_ARTIFACTS/ui-screenshots, else a temp folder."""
    base = os.environ.get("MMVC_TEST_ARTIFACTS")
    folder = os.path.join(base, "ui-screenshots") if base else str(tmp_path_factory.mktemp("ui-screenshots"))
    os.makedirs(folder, exist_ok=True)
    yield folder
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"ui screenshots: {folder}")


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900",
                "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def _open(browser, url: str):
    browser.get(url)
    _wait_images(browser)


def _wait_images(browser, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout).until(lambda d: d.execute_script(
        "return document.readyState === 'complete' && Array.from(document.images).every(i => i.complete)"))


def _errors(browser) -> list[dict]:
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def _broken_images(browser) -> list[str]:
    return browser.execute_script("return Array.from(document.images).filter(i => !i.naturalWidth).map(i => i.src)")


def _keys(browser, css: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.get_attribute("data-key") for e in browser.find_elements(By.CSS_SELECTOR, css)]


def test_versions_page_lists_branches_and_a_click_shows_the_grid(ui_server, ui_repo, browser, shots):
    from selenium.webdriver.common.by import By

    _open(browser, ui_server + "/")
    browser.save_screenshot(os.path.join(shots, "versions.png"))
    names = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#branches a.branch")]
    assert names == ["main", "side"]
    assert _errors(browser) == []
    browser.find_element(By.LINK_TEXT, "main").click()
    _wait_images(browser)
    browser.save_screenshot(os.path.join(shots, "grid-main.png"))
    assert _keys(browser, "#grid figure.card") == [e.path for e in ui_repo.ls_files("main")]
    assert _broken_images(browser) == []
    assert _errors(browser) == []


def test_clicking_an_older_version_shows_its_grid_and_an_item(ui_server, ui_repo, browser, shots):
    from selenium.webdriver.common.by import By

    _open(browser, ui_server + "/")
    browser.find_elements(By.CSS_SELECTOR, "a.version")[1].click()  # the first commit
    _wait_images(browser)
    assert _keys(browser, "#grid figure.card") == [e.path for e in ui_repo.ls_files("main~1")]
    browser.find_element(By.CSS_SELECTOR, "figure[data-key='video/clip.mp4'] a").click()
    _wait_images(browser)
    browser.save_screenshot(os.path.join(shots, "item-video.png"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "video/clip.mp4"
    assert browser.find_element(By.ID, "download").get_attribute("href").endswith("download=1")
    assert _broken_images(browser) == []
    assert _errors(browser) == []


def test_curation_page_shows_the_duplicate_pair_side_by_side(ui_server, browser, shots):
    from selenium.webdriver.common.by import By

    _open(browser, ui_server + "/curation?rev=main~1")
    browser.save_screenshot(os.path.join(shots, "curation.png"))
    kept = browser.find_element(By.CSS_SELECTOR, ".cluster .kept figure[data-key='images/a.png']")
    dropped = browser.find_element(By.CSS_SELECTOR, ".cluster .dup figure[data-key='images/z-copy.png']")
    assert kept.location["x"] + kept.size["width"] <= dropped.location["x"]  # side by side, kept first
    assert abs(kept.location["y"] - dropped.location["y"]) < kept.size["height"]
    assert "text/empty.txt" in browser.find_element(By.CSS_SELECTOR, "ul.rejected").text
    assert _broken_images(browser) == []
    assert _errors(browser) == []


def test_search_box_returns_hits(ui_server, browser, shots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, ui_server + "/search?rev=main")
    box = browser.find_element(By.ID, "q")
    box.send_keys("birds in the morning garden")
    browser.find_element(By.ID, "go").click()
    WebDriverWait(browser, 120).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".hits figure.card"))
    _wait_images(browser)
    browser.save_screenshot(os.path.join(shots, "search.png"))
    assert len(_keys(browser, ".hits figure.card")) >= 2
    assert _broken_images(browser) == []
    assert _errors(browser) == []


def test_diff_and_datasheet_pages_render(ui_server, browser, shots):
    from selenium.webdriver.common.by import By

    _open(browser, ui_server + "/diff?a=main~1&b=main")
    browser.save_screenshot(os.path.join(shots, "diff.png"))
    assert _keys(browser, ".changes.added figure.card") == ["images/c.png", "text/more.txt"]
    assert _errors(browser) == []
    _open(browser, ui_server + "/datasheet?rev=main")
    browser.save_screenshot(os.path.join(shots, "datasheet.png"))
    assert browser.find_elements(By.CSS_SELECTOR, ".plots img")
    assert _broken_images(browser) == []
    assert _errors(browser) == []


def test_unknown_revision_shows_an_error_page(ui_server, browser, shots):
    from selenium.webdriver.common.by import By

    browser.get(ui_server + "/grid?rev=no-such-branch")
    browser.save_screenshot(os.path.join(shots, "error.png"))
    assert browser.find_element(By.CSS_SELECTOR, "#error h1").text == "404"
    assert "no-such-branch" in browser.find_element(By.CSS_SELECTOR, "#error .message").text
    browser.get_log("browser")  # the 404 itself is logged as a failed load: expected here
