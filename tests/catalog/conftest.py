"""One processed, committed repository shared by the end-to-end catalog tests: real Ray (local
mode), real decoders, tiny seeded models built through the real loading code (tests/process_fixtures.py)."""

from __future__ import annotations


import pytest

from mmvc.core.objects import canonical_meta
from mmvc.repo import Repo
from tests.process_fixtures import STORY, build, png, wav

META = {
    "images/a.png": {"license": "cc-by-4.0", "source": "coco", "caption": "a red square on a field",
                     "provenance": {"connector": "files", "uri": "s3://bucket/coco/a.png", "location": "coco/a.png", "retrieved": 1700000000}},
    "images/b.png": {"license": "cc0-1.0", "source": "coco", "caption": "blue rectangles"},
    "images/c.png": {"license": "proprietary", "source": "scrape"},
    "text/story.txt": {"license": "cc-by-4.0", "source": "fineweb"},
    "text/db.txt": {"license": "odc-by", "source": "fineweb"},
    "audio/tone.wav": {"license": "cc0-1.0", "source": "librispeech", "transcript": "a steady tone at four hundred and forty hertz"},
}


def set_meta(repo, metas: dict) -> None:
    index = repo.load_index()
    for key, meta in metas.items():
        e = index.get(key)
        index.set(e._replace(meta=canonical_meta(meta)))
    index.write()


@pytest.fixture(scope="session")
def committed(tmp_path_factory, tiny_models, ray_local):
    """main: two commits (images + texts + audio, then one more text); the first commit has a
    proprietary image the license policy rejects."""
    from mmvc.core.config import set_value
    from mmvc.ops.process import process

    root = str(tmp_path_factory.mktemp("catalog-repo"))
    repo = Repo.init(root)
    text_model, clip_model = tiny_models
    set_value(repo, "process.models", "text", text_model)
    set_value(repo, "process.models", "image", clip_model)
    set_value(repo, "process.semantic", "eps", 1e-7)
    set_value(repo, "process.license", "deny", ["proprietary"])
    set_value(repo, "catalog", "index_threshold", 100000)
    repo.__dict__.pop("config", None)
    build(root, {
        "images/a.png": png(1), "images/b.png": png(2, size=(128, 80)), "images/c.png": png(4),
        "images/z-copy.png": png(1),
        "text/story.txt": STORY + "\n",
        "text/db.txt": "Completely different words about databases, indexes, transactions and query planners in production systems.\n",
        "text/empty.txt": "",
        "audio/tone.wav": wav(440),
    })
    repo.add(["."], cwd=root)
    set_meta(repo, META)
    process(repo)
    first = repo.commit("first cut")
    build(root, {"text/more.txt": "Birds sing in the morning while the garden wakes up, and bees visit every flower nearby.\n"})
    repo.add(["text/more.txt"], cwd=root)
    set_meta(repo, {"text/more.txt": {"license": "cc-by-4.0", "source": "wiki"}})
    process(repo)
    second = repo.commit("more text")
    return repo, first, second
