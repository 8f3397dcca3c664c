"""Ray Data class UDFs of the embedding stage: built once per actor (the model stays warm), then
called on numpy batches. The pipeline (``mmvc.process.pipeline``) wires them into
``Dataset.map_batches``; Ray itself is not imported here.

On a GPU the host work moves to CPU stages ahead of the embedding actor: ``TextTokenizeUDF``
tokenises for ``TextEmbedUDF``, ``ClipPixelsUDF`` decodes and crops for ``ClipEmbedUDF``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mmvc.core.families import CLIP_FAMILY, TEXT_FAMILY
from mmvc.errors import BadInputError
from mmvc.process.embedders import ClipEmbedder, TextEmbedder, pool_segments
from mmvc.process.models import how_to_point, load_image_processor, load_pretrained, resolve_model, set_torch_threads, token_limit
from mmvc.process.transforms import ClipGeometry, frame_list

TEXT_DIM = TEXT_FAMILY.width
CLIP_DIM = CLIP_FAMILY.width


def _of_width(embedder, width: int, column: str, family: str):
    """The embedder, if its vectors fit the catalog column they are stored in."""
    if embedder.dim != width:
        what = "text" if family == "text" else "image"
        raise BadInputError(f"the {what} model {embedder.model_id} gives {embedder.dim}-d vectors; {column} is {width}-d",
                            how_to_point(family))
    return embedder


def _batch_len(batch: Mapping) -> int:
    for value in batch.values():
        return len(value)
    return 0


def _text_or_none(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str) and value.strip():
        return value
    return None


class TextTokenizeUDF:
    """Ray Data class UDF (CPU) that tokenises ahead of :class:`TextEmbedUDF`, adding
    ``text_tokens`` (int32, ``max_length`` wide: each row's ids, then padding) and
    ``text_token_count`` (ids per row; 0 where there is no text).

    On a GPU, tokenising MiniLM's input costs as much time as running MiniLM (H200, bf16, batch
    64: 4.0 ms against 3.4 ms), so an embedding actor that tokenises for itself keeps the GPU
    idle half the time. Run this stage on CPU workers (as many as it takes to keep up, which
    Ray's autoscaling actor pool finds) and give :class:`TextEmbedUDF` the same model: it then
    only gathers, copies and runs the model. Fixed width rather than ragged rows, because Ray
    hands a fixed-shape column over as one array, with no per-row conversion on either side:
    at MiniLM's 256 that is 1 KiB a row in flight. On CPUs alone the split buys nothing."""

    def __init__(self, model: str | None = None, max_length: int = 256):
        from transformers import AutoConfig, AutoTokenizer

        path = resolve_model(model, "text")
        self.tokenizer = load_pretrained(AutoTokenizer.from_pretrained, path, "text model's tokenizer", "text")
        config = load_pretrained(AutoConfig.from_pretrained, path, "text model's config", "text")
        self.max_length = token_limit(max_length, config, self.tokenizer)
        pad = self.tokenizer.pad_token_id
        self._pad_id = int(pad) if pad is not None else 0

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import itertools

        if "text" not in batch:
            raise KeyError("TextTokenizeUDF needs a 'text' column in the batch")
        texts = [_text_or_none(t) for t in batch["text"]]
        rows = np.array([i for i, t in enumerate(texts) if t is not None], dtype=np.int64)
        tokens = np.full((len(texts), self.max_length), self._pad_id, dtype=np.int32)
        counts = np.zeros(len(texts), dtype=np.int32)
        if rows.size:
            lists = self.tokenizer([texts[i] for i in rows], truncation=True, max_length=self.max_length,
                                   padding=False, return_attention_mask=False, return_token_type_ids=False)["input_ids"]
            lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
            flat = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int32, count=int(lengths.sum()))
            col = np.arange(flat.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            tokens[np.repeat(rows, lengths), col] = flat
            counts[rows] = lengths
        out = dict(batch)
        out["text_tokens"] = tokens
        out["text_token_count"] = counts
        return out


class TextEmbedUDF:
    """Ray Data class UDF for ``text_vector``: built once per actor (the model stays warm), then
    called on numpy batches. Wire it as ``ds.map_batches(TextEmbedUDF, fn_constructor_kwargs={...},
    compute=ray.data.ActorPoolStrategy(size=n), num_gpus=g, num_cpus=c, batch_size=b,
    batch_format="numpy")``. Ray gives actors OMP_NUM_THREADS = num_cpus, so on CPUs ``num_cpus``
    is torch's thread count; ``threads`` overrides it.

    With ``text_tokens`` and ``text_token_count`` (from :class:`TextTokenizeUDF`, same model) the
    UDF embeds those and tokenises nothing itself: the layout for GPUs. Without it, it tokenises the
    ``text`` column, which is as fast as anything on CPUs. On a GPU, give each call several
    model batches (Ray ``batch_size`` a multiple of the model's), so the per-call work is spread
    thin. The UDF is thread-safe, but two calls at once on one actor
    (``max_concurrent_calls_per_actor=2``) made MiniLM slower on an H200: the model is bound by
    how fast Python queues kernels, and two threads only contend for the GIL.

    Rows without text (None, empty, whitespace) get an all-NaN vector and ``text_vector_ok``
    False, so the row count never changes and nothing is guessed. The input batch is a read-only
    view (zero-copy): the UDF never writes into it."""

    def __init__(self, model: str | None = None, batch_size: int = 64, device: str = "cpu", dtype=None,
                 max_length: int = 256, threads: int | None = None, prefetch: bool | None = None):
        set_torch_threads(threads)
        self.embedder = _of_width(TextEmbedder(model, device=device, batch_size=batch_size, max_length=max_length, dtype=dtype,
                                               prefetch=prefetch), TEXT_DIM, "text_vector", "text")

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if "text_tokens" in batch and "text_token_count" in batch:
            tokens, counts = batch["text_tokens"], np.asarray(batch["text_token_count"]).reshape(-1)
            if tokens.dtype == object:  # rows of different widths, stacked by the caller
                tokens = np.stack(list(tokens))
            ok = counts > 0
            embed = lambda: self.embedder.embed_padded(tokens[ok] if not ok.all() else tokens,  # noqa: E731
                                                       counts[ok])
        elif "text" in batch:
            texts = [_text_or_none(t) for t in batch["text"]]
            ok = np.array([t is not None for t in texts], dtype=bool)
            embed = lambda: self.embedder.embed([t for t in texts if t is not None])  # noqa: E731
        else:
            raise KeyError("TextEmbedUDF needs a 'text' column (or 'text_tokens' and 'text_token_count')")
        if ok.all():
            vectors = embed()
        else:
            vectors = np.full((len(ok), TEXT_DIM), np.nan, dtype=np.float32)
            if ok.any():
                vectors[ok] = embed()
        out = dict(batch)
        out["text_vector"] = vectors
        out["text_vector_ok"] = ok
        return out


def _image_or_none(value) -> np.ndarray | None:
    if value is None:
        return None
    array = np.asarray(value)
    if array.dtype == object or array.size == 0:
        return None
    return array


class ClipEmbedUDF:
    """Ray Data class UDF for ``clip_vector``, wired like :class:`TextEmbedUDF` (on a GPU, Ray
    batches of several model batches). A row with
    keyframes (a video) gets their pooled embedding; otherwise its ``thumb`` (an image); a row
    with neither gets NaN and ``clip_vector_ok`` False. All pictures of a batch go through the
    model together, whichever row they came from."""

    def __init__(self, model: str | None = None, batch_size: int = 32, device: str = "cpu", dtype=None,
                 threads: int | None = None):
        set_torch_threads(threads)
        self.embedder = _of_width(ClipEmbedder(model, device=device, batch_size=batch_size, dtype=dtype), CLIP_DIM, "clip_vector", "clip")

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = _batch_len(batch)
        thumbs = batch.get("thumb")
        keyframes = batch.get("keyframes")
        if keyframes is not None and all(k is None for k in keyframes):
            keyframes = None
        if (keyframes is None and isinstance(thumbs, np.ndarray) and thumbs.ndim == 4 and thumbs.dtype == np.uint8
                and thumbs.shape[3] == 3):
            # A fixed-shape thumbnail column arrives as one array: no per-row work at all.
            out = dict(batch)
            out["clip_vector"] = self.embedder.embed_images(thumbs)
            out["clip_vector_ok"] = np.ones(n, dtype=bool)
            return out
        if keyframes is None:
            # Images only: one cheap pass picks the rows with a thumbnail.
            has = np.fromiter((t is not None and getattr(t, "size", 0) > 0 and getattr(t, "dtype", None) != object  # noqa: E721 (a numpy dtype, not a type)
                               for t in thumbs), dtype=bool, count=n) if thumbs is not None else np.zeros(n, bool)
            flat = self.embedder.embed_images([thumbs[i] for i in np.flatnonzero(has)])
            out = dict(batch)
            out["clip_vector"] = pool_segments(flat, has.astype(np.int64), CLIP_DIM)
            out["clip_vector_ok"] = has
            return out
        pictures, counts = [], []
        for i in range(n):
            frames = frame_list(keyframes[i])
            if not frames and thumbs is not None:
                thumb = _image_or_none(thumbs[i])
                frames = [thumb] if thumb is not None else []
            pictures.extend(frames)
            counts.append(len(frames))
        flat = self.embedder.embed_images(pictures)
        out = dict(batch)
        out["clip_vector"] = pool_segments(flat, counts, CLIP_DIM)
        out["clip_vector_ok"] = np.array(counts, dtype=np.int64) > 0
        return out


class ClipPixelsUDF:
    """Ray Data class UDF (CPU) ahead of :class:`ClipEmbedUDF` on a GPU: decodes the PNG
    thumbnails and keyframes the prep stage cached, and resizes and centre-crops each picture
    with PIL to the model's input size, as CLIP's own processor does. The GPU actor then receives
    one fixed-shape uint8 array per batch of images and only copies it and normalises it on the
    device; decoding inside the GPU actor held CLIP ViT-B/32 on an H200 to two thirds of a bare
    loop. Many CPU workers feed one GPU actor (Ray's autoscaling actor pool finds how many)."""

    def __init__(self, model: str | None = None):
        from PIL import Image
        from transformers import AutoConfig

        path = resolve_model(model, "clip")
        proc = load_image_processor(path)
        config = load_pretrained(AutoConfig.from_pretrained, path, "image model's config", "clip")
        vision = getattr(config, "vision_config", config)
        self._geometry = ClipGeometry.of(proc, getattr(vision, "image_size", 224))
        self._resample = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}.get(self._geometry.mode,
                                                                                                            Image.Resampling.NEAREST)

    def crop(self, rgb: np.ndarray) -> np.ndarray:
        from PIL import Image

        h, w = rgb.shape[:2]
        th, tw = self._geometry.resized(h, w)
        img = Image.fromarray(rgb)
        if (th, tw) != (h, w):
            img = img.resize((tw, th), self._resample)
        if self._geometry.crop_hw:
            ch, cw = self._geometry.crop_hw
            top, left = (th - ch) // 2, (tw - cw) // 2
            img = img.crop((left, top, left + cw, top + ch))
        return np.asarray(img, dtype=np.uint8)

    def _decode(self, data) -> np.ndarray | None:
        import io

        from PIL import Image

        if not isinstance(data, (bytes, bytearray)):
            return None
        return self.crop(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = _batch_len(batch)
        thumbs = [self._decode(t) for t in batch.get("thumb", [None] * n)]
        frames = [[self._decode(x) for x in k] if isinstance(k, (list, tuple, np.ndarray)) and len(k) else None
                  for k in batch.get("keyframes", [None] * n)]
        out = {"oid": np.asarray(batch["oid"])}
        if all(f is None for f in frames) and all(t is not None for t in thumbs) and len({t.shape for t in thumbs}) == 1:
            out["thumb"] = np.stack(thumbs)  # one array: the GPU actor's fast path
        else:
            col, kf = np.empty(n, dtype=object), np.empty(n, dtype=object)
            for i in range(n):  # element by element: numpy would stack equal-shaped arrays
                col[i], kf[i] = thumbs[i], frames[i]
            out["thumb"], out["keyframes"] = col, kf
        return out
