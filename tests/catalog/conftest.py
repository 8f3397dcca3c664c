"""One processed, committed repository shared by the end-to-end catalog tests: real Ray (local
mode), real decoders, tiny seeded models built through the real loading code. The fixtures and
sample builders are those of tests/process/test_pipeline.py."""

from __future__ import annotations

import io
import math
import os
import struct
import wave

import numpy as np
import pytest

from mmvc.core.objects import canonical_meta
from mmvc.ops.init import init

STORY = ("The quick brown fox jumps over the lazy dog near the river bank while the children "
         "watch from the old wooden bridge and the sun sets slowly behind the distant hills today. "
         "Later that evening the family walked home along the narrow path, talking about the birds "
         "they had seen, the boats drifting on the water, the smell of pine trees after the rain, and "
         "the long summer holidays that were coming soon, with trips to the mountains and the sea.")


@pytest.fixture(scope="session")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False,
             object_store_memory=200 << 20)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    from mmvc.process.tiny_models import build_tiny_clip_model, build_tiny_text_model

    root = tmp_path_factory.mktemp("models")
    text, clip = str(root / "text"), str(root / "clip")
    build_tiny_text_model(text, seed=0)
    build_tiny_clip_model(clip, seed=0)
    return text, clip


def png(seed: int, size=(96, 64)) -> bytes:
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    img = Image.new("RGB", size, tuple(int(x) for x in rng.integers(0, 255, 3)))
    d = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = rng.integers(0, size[0] // 2), rng.integers(0, size[1] // 2)
        d.rectangle([x0, y0, x0 + rng.integers(8, 40), y0 + rng.integers(8, 30)], fill=tuple(int(x) for x in rng.integers(0, 255, 3)))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def wav(freq: float, secs: float = 1.0, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate))) for i in range(int(secs * rate))))
    return buf.getvalue()


def build(root, files: dict) -> None:
    for rel, data in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())

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
    repo = init(root)
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
