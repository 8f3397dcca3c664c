"""One processed, committed repository with all four modalities (and a duplicate pair, a
rejected item, two versions and a second branch), and `mmvc ui` serving it on a free port from
a thread, for the HTTP and browser tests. Real Ray (local mode), real decoders, tiny seeded
models (tests/process_fixtures.py)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from mmvc.repo import Repo
from tests.process_fixtures import STORY, build, mp4, png, use_tiny_models, wav

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")


@pytest.fixture(scope="session")
def ui_repo(tmp_path_factory, tiny_models, ray_local):
    """main: first (images, texts, audio, video; images/z-copy.png an exact duplicate of
    images/a.png; text/empty.txt rejected), then second (one text and one image more);
    branch side at first; an mmlu eval on second."""
    from mmvc.ops.process import process

    root = str(tmp_path_factory.mktemp("ui-repo"))
    repo = Repo.init(root)
    use_tiny_models(repo, tiny_models)
    build(root, {
        "images/a.png": png(1), "images/b.png": png(2, size=(128, 80)), "images/z-copy.png": png(1),
        "text/story.txt": STORY + "\n",
        "text/db.txt": "Completely different words about databases, indexes, transactions and query planners in production systems.\n",
        "text/empty.txt": "",
        "audio/tone.wav": wav(440),
        "video/clip.mp4": mp4(png(5, size=(96, 64))),
    })
    repo.add(["."], cwd=root)
    process(repo)
    repo.commit("first cut")
    repo.branch("side")
    build(root, {"text/more.txt": "Birds sing in the morning while the garden wakes up, and bees visit every flower nearby.\n",
                 "images/c.png": png(4, size=(80, 80))})
    repo.add(["text/more.txt", "images/c.png"], cwd=root)
    process(repo)
    repo.commit("more items")
    repo.add_eval("HEAD", "mmlu", {"acc": 0.61}, model="tiny")
    return repo


@pytest.fixture(scope="session")
def ui_server(ui_repo):
    """The base URL (``http://127.0.0.1:PORT``) of `mmvc ui` serving ``ui_repo``."""
    from mmvc.ui.server import bind, make_server, url_of

    sock = bind("127.0.0.1", 0)
    server = make_server(ui_repo, sock)
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the UI server did not start"
    yield url_of(sock).rstrip("/")
    server.should_exit = True
    t.join(10)


class Reply:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def fetch(base: str, path: str, headers: dict | None = None, data: bytes | None = None) -> Reply:
    """GET (or POST ``data``) ``path`` without raising on error statuses."""
    req = urllib.request.Request(base + path, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return Reply(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.headers, e.read())
