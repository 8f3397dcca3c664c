"""Pictures into CLIP's input: the processor's geometry (resize, centre crop), PIL's antialiased
resampling as matrices, RGB checks, keyframe lists, and a small thread pool that stages pixel
batches into pinned memory.

The embedder applies the geometry on the model's device (``mmvc.process.embedders``); the CPU
pixel stage applies it with PIL (``mmvc.process.udfs.ClipPixelsUDF``); both give the pixels
CLIP's own processor gives, within its 8-bit rounding.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

_RESAMPLE = {0: "nearest", 2: "bilinear", 3: "bicubic"}


def _size_field(size, key):
    if size is None:
        return None
    if isinstance(size, int):
        return size
    if isinstance(size, Mapping):
        return size.get(key)
    return getattr(size, key, None)


@dataclass(frozen=True)
class ClipGeometry:
    """How a CLIP checkpoint's image processor sizes a picture: a resize (of the shortest edge, or
    to a fixed size), then a centre crop. Read from the processor once; the embedder (on the
    device) and the CPU pixel stage (with PIL) both follow it."""

    do_resize: bool
    shortest: int | None
    resize_hw: tuple  # (height, width) of a fixed-size resize, or (None, None)
    image_size: int  # the vision tower's input size, when the processor names no size
    crop: tuple | None  # (height, width) of the centre crop, or None
    mode: str  # nearest | bilinear | bicubic

    @classmethod
    def of(cls, proc, image_size: int) -> ClipGeometry:
        size = getattr(proc, "size", None)
        crop = getattr(proc, "crop_size", None)
        return cls(bool(getattr(proc, "do_resize", True)), _size_field(size, "shortest_edge"),
                   (_size_field(size, "height"), _size_field(size, "width")), int(image_size),
                   (_size_field(crop, "height"), _size_field(crop, "width")) if getattr(proc, "do_center_crop", True) and crop is not None else None,
                   _RESAMPLE.get(int(getattr(proc, "resample", 3) or 3), "bicubic"))

    def resized(self, h: int, w: int) -> tuple[int, int]:
        """The size an (h, w) picture is resized to, before its centre crop."""
        if not self.do_resize:
            return h, w
        if self.shortest:
            short, long = (h, w) if h <= w else (w, h)
            new_long = int(self.shortest * long / short)
            return (self.shortest, new_long) if h <= w else (new_long, self.shortest)
        if self.resize_hw[0] and self.resize_hw[1]:
            return int(self.resize_hw[0]), int(self.resize_hw[1])
        return self.image_size, self.image_size

    @property
    def crop_hw(self) -> tuple[int, int] | None:
        """(height, width) of the centre crop, when there is one."""
        return (int(self.crop[0]), int(self.crop[1])) if self.crop and self.crop[0] and self.crop[1] else None


def as_rgb(image) -> np.ndarray:
    if isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8 \
            and image.shape[0] and image.shape[1]:
        return image
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    elif array.ndim == 3 and array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"expected an RGB image (H, W, 3), got shape {tuple(array.shape)}")
    if array.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {array.dtype}")
    return array


def _cubic(x: np.ndarray) -> np.ndarray:
    a = -0.5  # PIL's (and torch's antialiased) bicubic
    x = np.abs(x)
    return np.where(x < 1, ((a + 2) * x - (a + 3)) * x * x + 1,
                    np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0.0))


KERNELS = {"bicubic": (_cubic, 2.0), "bilinear": (lambda x: np.maximum(0.0, 1 - np.abs(x)), 1.0)}


def resample_matrix(n_in: int, n_out: int, mode: str = "bicubic") -> np.ndarray:
    """(n_out, n_in) weights of an antialiased resize along one axis, computed the way PIL's
    ImagingResample does: the kernel widens with the downscale factor, and each output pixel's
    weights sum to one."""
    kernel, support = KERNELS[mode]
    scale = n_in / n_out
    widen = max(scale, 1.0)
    support *= widen
    out = np.zeros((n_out, n_in), dtype=np.float64)
    for i in range(n_out):
        center = (i + 0.5) * scale
        lo, hi = max(int(center - support + 0.5), 0), min(int(center + support + 0.5), n_in)
        weights = kernel((np.arange(lo, hi) - center + 0.5) / widen)
        total = weights.sum()
        out[i, lo:hi] = weights / total if total else 0.0
    return out


_COPY_POOL = None
_COPY_POOL_LOCK = threading.Lock()
_COPY_SPLIT = 4 << 20  # bytes; smaller copies are not worth a thread hand-off
_COPY_THREADS = 4


def parallel_copy(host, out: np.ndarray) -> None:
    """Images (a list, or one array) into ``out``, on up to four threads for big batches: numpy
    copies release the GIL, and one core copies a batch of thumbnails slower than a GPU embeds
    it (H200: 256 thumbnails of 256², 6.5 ms on one thread, 2.5 ms on four)."""
    global _COPY_POOL

    def copy(a: int, b: int) -> None:
        if isinstance(host, list):
            np.stack(host[a:b], out=out[a:b])
        else:
            np.copyto(out[a:b], host[a:b])

    n = len(host)
    parts = min(_COPY_THREADS, os.cpu_count() or 1, max(1, out.nbytes // _COPY_SPLIT), n)
    if parts <= 1:
        copy(0, n)
        return
    with _COPY_POOL_LOCK:
        if _COPY_POOL is None:
            from concurrent.futures import ThreadPoolExecutor

            _COPY_POOL = ThreadPoolExecutor(max_workers=_COPY_THREADS, thread_name_prefix="mmvc-pixels")
    bounds = np.linspace(0, n, parts + 1).astype(int)
    list(_COPY_POOL.map(copy, bounds[:-1], bounds[1:]))


def center_crop(x: torch.Tensor, ch: int, cw: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    if ch > h or cw > w:
        pad_w, pad_h = max(cw - w, 0), max(ch - h, 0)
        x = torch.nn.functional.pad(x, (pad_w // 2, (pad_w + 1) // 2, pad_h // 2, (pad_h + 1) // 2))
        h, w = x.shape[-2:]
    top, left = (h - ch) // 2, (w - cw) // 2
    return x[..., top:top + ch, left:left + cw]


def frame_list(value) -> list[np.ndarray]:
    """Keyframes as a list of images, whether Ray handed over a list, an object array of
    frames, or one stacked (k, H, W, 3) array."""
    if value is None:
        return []
    if isinstance(value, np.ndarray) and value.dtype != object:
        if value.ndim == 4:
            return list(value)
        if value.ndim == 3:
            return [value]
        return []
    return [f for f in value if f is not None and np.asarray(f).size > 0]
