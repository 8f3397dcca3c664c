"""Shared by every test that runs the real pipeline: one Ray in local mode for the session, tiny
seeded models built through the real loading code, a repository configured to use them, and
builders for small real samples (PNG, WAV, a story, sentences, pictures)."""

from __future__ import annotations

import io
import math
import os
import struct
import wave

import numpy as np
import pytest

STORY = ("The quick brown fox jumps over the lazy dog near the river bank while the children "
         "watch from the old wooden bridge and the sun sets slowly behind the distant hills today. "
         "Later that evening the family walked home along the narrow path, talking about the birds "
         "they had seen, the boats drifting on the water, the smell of pine trees after the rain, and "
         "the long summer holidays that were coming soon, with trips to the mountains and the sea.")


SENTENCES = ["a photo of a cat", "the dog is in the house", "red car on the street",
             "Zebra crossing, 42 times!", "x", "music and speech in the city at night " * 20]


def random_images(seed=0, shapes=((300, 400), (224, 224), (96, 160), (500, 230))):
    """RGB uint8 pictures of the given (height, width)s, of random pixels."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (*s, 3), dtype=np.uint8) for s in shapes]


def unit_rows(v) -> bool:
    """Whether every row of ``v`` is L2-normalised."""
    return np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


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


def use_tiny_models(repo, tiny_models) -> None:
    """Point the repository's process config at the tiny models. Random tiny models map every
    input close together, so only identical vectors count as semantic duplicates (eps 1e-7);
    the semantic stage itself is tested on planted vectors."""
    from mmvc.core.config import set_value

    set_value(repo, "process.models", "text", tiny_models[0])
    set_value(repo, "process.models", "image", tiny_models[1])
    set_value(repo, "process.semantic", "eps", 1e-7)
    repo.__dict__.pop("config", None)


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


def jpeg(data: bytes, quality: int = 80, scale: float = 1.0) -> bytes:
    """``data`` (any picture) re-saved as a JPEG at ``quality``, resized by ``scale``: a near copy."""
    from PIL import Image

    img = Image.open(io.BytesIO(data)).convert("RGB")
    if scale != 1.0:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def mp4(picture: bytes, frames: int = 16, rate: int = 8) -> bytes:
    """A short H.264 video (two seconds at the defaults) showing ``picture`` and a bar sweeping across it."""
    import av
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(picture)).convert("RGB"))
    h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=rate)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"g": "4", "keyint_min": "4", "preset": "ultrafast", "sc_threshold": "0"}
        for i in range(frames):
            frame = rgb[:h, :w].copy()
            frame[:, (i * w // frames):(i * w // frames) + 4] = 255
            for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
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
