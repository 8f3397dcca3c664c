"""Thumbnails of blobs, cached on disk under ``.mmvc/ui/thumbs`` (docs/format.md, "UI cache").

A grid page asks for a hundred thumbnails; decoding a hundred full pictures or videos per page
view would make browsing a large version slow, so each blob is rendered once per size and the
JPEG is kept, keyed by blob id: bytes never change under an id, so an entry never goes stale.
Video and audio are decoded by the process stage's own decoder (mmvc.process.decode), so the
UI reads exactly the formats the pipeline accepts.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

from mmvc.core.modality import AUDIO, IMAGE, TEXT, VIDEO
from mmvc.errors import BadInputError

SIZES = (128, 256)
DEFAULT_SIZE = 256
CONTENT_TYPE = "image/jpeg"
STRIP_FRAMES = 4
TEXT_CHARS = 600


class NoThumbnail(BadInputError):
    """The item's bytes cannot be shown as a picture (undecodable, or a modality without one)."""


@dataclass
class Thumbnail:
    data: bytes
    cached: bool  # served from the cache (False: rendered by this call)


class ThumbnailCache:
    """Renders and keeps thumbnails for one repository."""

    def __init__(self, repo):
        self.repo = repo

    def get(self, blob: str, modality: int, size: int = DEFAULT_SIZE, read=None) -> Thumbnail:
        """The thumbnail of ``blob`` (an item of ``modality``) fitting ``size``×``size``.
        ``read`` fetches the blob's bytes (default: the repository's store); it is called only
        on a miss."""
        if size not in SIZES:
            raise BadInputError(f"thumbnail size {size} is not offered", f"use one of {', '.join(map(str, SIZES))}")
        path = self.repo.layout.ui_thumbnail(size, blob)
        try:
            with open(path, "rb") as f:
                return Thumbnail(f.read(), True)
        except FileNotFoundError:
            pass
        data = (read or self.repo.store.get)(blob)
        out = render(data, modality, size)
        from mmvc.core.atomicfile import atomic_write

        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, out, fsync=False)
        return Thumbnail(out, False)


def render(data: bytes, modality: int, size: int) -> bytes:
    """A JPEG fitting ``size``×``size`` for one item's bytes; BadInputError when they cannot be
    shown (a rejected item's bytes may well be undecodable)."""
    if modality == IMAGE:
        img = _picture(data, size)
    elif modality == VIDEO:
        img = _keyframe_strip(data, size)
    elif modality == AUDIO:
        img = _waveform(data, size)
    elif modality == TEXT:
        img = _text_card(data, size)
    else:
        raise NoThumbnail("items of this modality have no thumbnail", "download the item to look at it")
    if img.mode != "RGB":
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _picture(data: bytes, size: int):
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
        img.draft("RGB", (size, size))  # JPEG: decode at a reduced scale instead of in full
        img = ImageOps.exif_transpose(img)
        img.thumbnail((size, size), Image.BILINEAR)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise NoThumbnail(f"the picture cannot be decoded ({e})", "download the item to look at it") from None
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        back = Image.new("RGB", img.size, (255, 255, 255))
        back.paste(img, mask=img.split()[-1])
        return back
    return img


def _decoded(data: bytes, modality: int):
    from mmvc.process.decode import decode_item

    out = decode_item(data, modality)
    if not out.ok:
        raise NoThumbnail(f"the item cannot be decoded: {out.reason} ({out.detail})", "download the item to look at it")
    return out


def _keyframe_strip(data: bytes, size: int):
    from PIL import Image

    frames = _decoded(data, VIDEO).keyframes or []
    if len(frames) > STRIP_FRAMES:
        frames = [frames[round(i * (len(frames) - 1) / (STRIP_FRAMES - 1))] for i in range(STRIP_FRAMES)]
    h = max(1, size // 2)
    tiles = []
    for f in frames:
        img = Image.fromarray(f)
        tiles.append(img.resize((max(1, round(img.width * h / img.height)), h), Image.BILINEAR))
    strip = Image.new("RGB", (sum(t.width for t in tiles) + 2 * (len(tiles) - 1), h), (0, 0, 0))
    x = 0
    for t in tiles:
        strip.paste(t, (x, 0))
        x += t.width + 2
    strip.thumbnail((size, size), Image.BILINEAR)
    return strip


def _waveform(data: bytes, size: int):
    import numpy as np
    from PIL import Image, ImageDraw

    audio = _decoded(data, AUDIO).audio
    w, h = size, max(1, size // 2)
    img = Image.new("RGB", (w, h), (245, 247, 250))
    d = ImageDraw.Draw(img)
    d.line([(0, h // 2), (w, h // 2)], fill=(200, 205, 215))
    if audio is not None and len(audio):
        cols = np.array_split(np.abs(np.asarray(audio, dtype=np.float32)), w)
        peak = max(float(np.abs(audio).max()), 1e-6)
        for x, c in enumerate(cols):
            if len(c):
                a = float(c.max()) / peak * (h / 2 - 2)
                d.line([(x, h / 2 - a), (x, h / 2 + a)], fill=(47, 111, 235))
    return img


def _text_card(data: bytes, size: int):
    from PIL import Image, ImageDraw, ImageFont

    text = data[:TEXT_CHARS * 4].decode("utf-8", errors="replace")[:TEXT_CHARS]
    img = Image.new("RGB", (size, size), (255, 255, 255))
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    per_line = max(8, size // 7)
    lines: list[str] = []
    for para in text.splitlines() or [""]:
        while para and len(lines) < size // 12:
            lines.append(para[:per_line])
            para = para[per_line:]
    d.multiline_text((6, 6), "\n".join(lines), fill=(30, 30, 30), font=font, spacing=2)
    return img
