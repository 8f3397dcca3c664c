"""Versions whose items carry metadata (source, license, caption), made the way a user makes
them: files added with ``repo.add``, metadata set on the staged entries, ``repo.commit`` (which
also writes the catalog rows that filters and mixtures read)."""

from __future__ import annotations

import io
import os

import numpy as np


def make_version(repo, items: dict, message: str = "data") -> str:
    """``items``: path -> bytes or (bytes, meta dict). Returns the commit id."""
    from mmvc.core.objects import canonical_meta

    for path, v in items.items():
        data = v[0] if isinstance(v, tuple) else v
        full = os.path.join(repo.root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
    repo.add(sorted(items), cwd=repo.root)
    index = repo.load_index()
    for path, v in items.items():
        if isinstance(v, tuple) and v[1]:
            index.set(index.get(path)._replace(meta=canonical_meta(v[1])))
    index.write()
    return repo.commit(message).oid


def png(seed: int, size=(24, 16)) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def mixed_items(n_coco: int = 30, n_web: int = 20) -> dict:
    items = {}
    for i in range(n_coco):
        items[f"coco/img{i:03d}.png"] = (png(i), {"source": "coco", "license": "cc-by-4.0", "caption": f"picture {i}"})
    for i in range(n_web):
        items[f"web/doc{i:03d}.txt"] = (f"document {i} ".encode() * (i + 1), {"source": "fineweb", "license": "odc-by"})
    return items
