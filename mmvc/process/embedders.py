"""The two embedders: text (and audio transcripts) → ``text_vector``, images and video keyframes
→ ``clip_vector``. The two families live in different spaces, so nothing here ever mixes them.

Models come resolved and loaded through ``mmvc.process.models``; pictures are prepared on the
model's device as ``mmvc.process.transforms`` describes; Ray wires the embedders in through the
UDFs of ``mmvc.process.udfs``. Everything a model returns goes through :func:`to_float32`, the one
place where tensors, output objects and tuples become plain float32 arrays, so a wrapper changing
its return type between transformers versions breaks in one spot.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from mmvc.process.models import (
    load_image_processor,
    load_pretrained,
    model_label,
    pick_device,
    place_model,
    resolve_model,
    token_limit,
    torch_dtype,
)
from mmvc.process.transforms import KERNELS, ClipGeometry, as_rgb, center_crop, frame_list, parallel_copy, resample_matrix

# -- the one normalisation boundary

_EMBED_FIELDS = ("sentence_embedding", "text_embeds", "image_embeds", "pooler_output")


def _select(output):
    """The tensor (or array) that holds one vector per input, whatever wrapped it."""
    if isinstance(output, (torch.Tensor, np.ndarray)):
        return output
    if isinstance(output, Mapping) or hasattr(output, "last_hidden_state") or hasattr(output, "pooler_output"):
        def field(name):
            return output.get(name) if isinstance(output, Mapping) else getattr(output, name, None)

        text, image = field("text_embeds"), field("image_embeds")
        if text is not None and image is not None:
            raise ValueError("the output holds both text_embeds and image_embeds; pass the one you mean")
        for name in _EMBED_FIELDS:
            value = field(name)
            if value is not None:
                return value
        hidden = field("last_hidden_state")
        if hidden is not None and hidden.ndim == 2:
            return hidden
        if hidden is not None:
            raise ValueError("the output has only per-token hidden states; pool them before converting")
        raise ValueError(f"no embedding field in {type(output).__name__} (looked for {', '.join(_EMBED_FIELDS)})")
    if isinstance(output, Sequence) and not isinstance(output, (str, bytes)):
        if len(output) == 0:
            raise ValueError("empty model output")
        if not any(isinstance(x, (torch.Tensor, np.ndarray, Mapping)) or hasattr(x, "last_hidden_state")
                   for x in output):
            return np.asarray(output, dtype=np.float32)
        items = [_select(x) for x in output if x is not None]
        if all(getattr(x, "ndim", None) == 1 for x in items):
            return torch.stack([torch.as_tensor(x) for x in items]) if isinstance(items[0], torch.Tensor) else np.stack(items)
        for x in items:
            if getattr(x, "ndim", None) == 2:
                return x
        raise ValueError("no 2-D embedding in the model's tuple output")
    raise TypeError(f"cannot read embeddings from {type(output).__name__}")


def to_float32(output) -> np.ndarray:
    """Whatever a model wrapper returned (tensor of any dtype or device, ModelOutput, tuple, list,
    numpy) as a C-contiguous float32 (n, d) array. Kept as the only conversion point so that
    a changed return type shows up here, not as a silently wrong column downstream."""
    value = _select(output)
    if isinstance(value, torch.Tensor):
        value = value.detach()
        if value.dtype != torch.float32:
            value = value.float()
        array = value.cpu().numpy()
    else:
        array = np.asarray(value, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"expected one vector per input, got shape {tuple(array.shape)}")
    return np.ascontiguousarray(array, dtype=np.float32)


def pool_segments(flat: np.ndarray, counts, dim: int) -> np.ndarray:
    """Per row, the re-normalised mean of its ``counts[row]`` consecutive vectors in ``flat``;
    NaN for rows with none."""
    counts = np.asarray(counts, dtype=np.int64).reshape(-1)
    out = np.full((len(counts), dim), np.nan, dtype=np.float32)
    has = counts > 0
    if not has.any():
        return out
    if counts.max() == 1:
        out[has] = flat
        return out
    starts = (np.cumsum(counts) - counts)[has]
    means = np.add.reduceat(flat, starts, axis=0) / counts[has, None]
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    out[has] = np.where(norms > 0, means / np.where(norms > 0, norms, 1), np.nan)
    return out


class _Prefetcher:
    """Prepares the next chunk on a helper thread while the caller runs the current one: on a
    GPU the host's share (tokenising, staging pixels) would otherwise leave the device idle."""

    def __init__(self, name: str):
        self._name = name
        self._pool = None
        self._lock = threading.Lock()

    def map(self, prepare, chunks: list, enabled: bool):
        if not enabled or len(chunks) < 2:
            yield from map(prepare, chunks)
            return
        with self._lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
        pending = self._pool.submit(prepare, chunks[0])
        for nxt in chunks[1:]:
            ready = pending.result()
            pending = self._pool.submit(prepare, nxt)
            yield ready
        yield pending.result()


# -- text


class TextEmbedder:
    """Sentence embeddings the way sentence-transformers computes all-MiniLM-L6-v2: mean of the
    token states under the attention mask, then L2 normalisation, so vectors match those the
    model card documents and cosine similarity is a dot product. (The mean is taken as a masked
    sum: dividing by the token count would not change the direction, and normalising follows.)

    Inputs are sorted by length and cut into ``batch_size`` chunks (less padding). On a GPU,
    where MiniLM embeds a row in microseconds, per-row host work decides throughput: chunks are
    padded without Python loops into pinned memory and copied asynchronously, nothing is read
    back until the last chunk is queued, and with ``prefetch`` (the default on a GPU) a helper
    thread tokenises the next chunk while the current one runs. Pre-tokenised input
    (:meth:`embed_tokens`, :meth:`embed_padded`) skips tokenising altogether. Calls may come
    from several threads at once: the tokenizer is used under a lock."""

    def __init__(self, model: str | None = None, device: str = "cpu", batch_size: int = 64, max_length: int = 256,
                 dtype=None, prefetch: bool | None = None):
        from transformers import AutoModel, AutoTokenizer

        self._spec = model
        self.path = resolve_model(model, "text")
        self.device = pick_device(device)
        self.batch_size = max(1, int(batch_size))
        self.tokenizer = load_pretrained(AutoTokenizer.from_pretrained, self.path, "text model's tokenizer", "text")
        self.model = place_model(load_pretrained(AutoModel.from_pretrained, self.path, "text model", "text"), self.device,
                                 torch_dtype(dtype))
        config = self.model.config
        self.max_length = token_limit(max_length, config, self.tokenizer)
        self.dim = int(config.hidden_size)
        self.prefetch = self.device.type == "cuda" if prefetch is None else bool(prefetch)
        pad = self.tokenizer.pad_token_id
        self._pad_id = int(pad) if pad is not None else 0
        self._lock = threading.Lock()
        self._ahead = _Prefetcher("mmvc-tokenize")

    @property
    def model_id(self) -> str:
        return model_label(self._spec, "text", self.path)

    def _token_lists(self, texts: list[str]) -> list[list[int]]:
        with self._lock:
            return self.tokenizer(texts, truncation=True, max_length=self.max_length, padding=False,
                                  return_attention_mask=False, return_token_type_ids=False)["input_ids"]

    def tokenize(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Token ids per text, unpadded, with the model's special tokens and truncation: what
        :meth:`embed_tokens` takes. Lets a pool of CPU workers tokenise ahead of a GPU."""
        if len(texts) == 0:
            return []
        return [np.asarray(x, dtype=np.int32) for x in self._token_lists([str(t) for t in texts])]

    def _padded(self, flat: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> torch.Tensor:
        """One model batch as a (2, rows, width) int64 tensor, ids over attention mask, built
        without a Python loop over rows, in pinned memory on a GPU so one asynchronous copy
        moves it."""
        rows, width = len(lengths), max(1, int(lengths.max()))
        host = torch.empty((2, rows, width), dtype=torch.int64, pin_memory=self.device.type == "cuda")
        ids, mask = host.numpy()
        ids.fill(self._pad_id)
        mask.fill(0)
        row = np.repeat(np.arange(rows), lengths)
        col = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        ids[row, col] = flat[np.repeat(offsets, lengths) + col]
        mask[row, col] = 1
        return host

    def _prepare_texts(self, texts: list[str]) -> torch.Tensor:
        import itertools

        lists = self._token_lists(texts)
        lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        flat = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64, count=int(lengths.sum()))
        return self._padded(flat, np.cumsum(lengths) - lengths, lengths)

    def _run(self, batches, order: np.ndarray) -> np.ndarray:
        """Model batches in, vectors out in the caller's order. Per batch only the model, one
        masked-sum product and one copy are queued (MiniLM on a GPU is bound by how fast the
        host queues work, not by the device); the cast, normalisation and reordering run once
        over the whole call, on the device, before a single copy back."""
        parts = []
        with torch.inference_mode():
            for host in batches:
                ids, mask = host.to(self.device, non_blocking=True)
                hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
                parts.append(torch.bmm(mask.unsqueeze(1).to(hidden.dtype), hidden).squeeze(1))
            if not parts:
                return np.zeros((0, self.dim), dtype=np.float32)
            inverse = torch.from_numpy(np.argsort(order)).to(self.device, non_blocking=True)
            summed = torch.cat(parts).index_select(0, inverse).float()
            return to_float32(torch.nn.functional.normalize(summed, p=2, dim=1))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        chunks = [[texts[i] for i in order[s:s + self.batch_size]] for s in range(0, len(texts), self.batch_size)]
        return self._run(self._ahead.map(self._prepare_texts, chunks, self.prefetch), order)

    def embed_flat(self, flat: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Like :meth:`embed_tokens`, for token ids laid end to end (``lengths[i]`` ids for
        row i, every length ≥ 1), the form a batch's token column concatenates to."""
        lengths = np.asarray(lengths, dtype=np.int64)
        if len(lengths) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        flat = np.asarray(flat).astype(np.int64, copy=False)
        offsets = np.cumsum(lengths) - lengths
        order = np.argsort(-lengths, kind="stable")
        chunks = (order[s:s + self.batch_size] for s in range(0, len(lengths), self.batch_size))
        return self._run((self._padded(flat, offsets[c], lengths[c]) for c in chunks), order)

    def embed_padded(self, ids: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Vectors for a (rows, width) array of token ids whose row i holds ``counts[i]`` ids
        (≥ 1) followed by padding: the layout :class:`TextTokenizeUDF` writes, which Ray hands
        over as one array, so no step here is per row."""
        counts = np.asarray(counts, dtype=np.int64).reshape(-1)
        if len(counts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = np.argsort(-counts, kind="stable")
        pinned = self.device.type == "cuda"

        def batch(rows: np.ndarray) -> torch.Tensor:
            width = max(1, int(counts[rows].max()))
            host = torch.empty((2, len(rows), width), dtype=torch.int64, pin_memory=pinned)
            out_ids, out_mask = host.numpy()
            out_ids[:] = ids[rows, :width]
            np.less(np.arange(width), counts[rows, None], out=out_mask, casting="unsafe")
            return host

        chunks = (order[s:s + self.batch_size] for s in range(0, len(counts), self.batch_size))
        return self._run(map(batch, chunks), order)

    def embed_tokens(self, tokens: Sequence[np.ndarray]) -> np.ndarray:
        """Vectors for texts already tokenised by :meth:`tokenize` with this model's tokenizer;
        the same vectors :meth:`embed` gives for the texts."""
        if len(tokens) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        return self.embed_flat(np.concatenate([np.asarray(t).reshape(-1) for t in tokens]), lengths)


# -- CLIP


class ClipEmbedder:
    """CLIP image and text embeddings in one 512-d space, L2-normalised.

    Pixels are prepared on the model's device from the uint8 images: the checkpoint's
    processor settings (resize of the shortest edge, antialiased bicubic, centre crop, rescale,
    normalise) applied in torch, images of one size together, so a GPU is not left waiting on
    PIL; the result matches CLIP's own processor within its 8-bit rounding. On a GPU the next
    chunk is staged into pinned memory on a helper thread while the current one runs."""

    def __init__(self, model: str | None = None, device: str = "cpu", batch_size: int = 32, dtype=None):
        from transformers import CLIPModel

        self._spec = model
        self.path = resolve_model(model, "clip")
        self.device = pick_device(device)
        self.batch_size = max(1, int(batch_size))
        self.model = place_model(load_pretrained(CLIPModel.from_pretrained, self.path, "image model", "clip"), self.device,
                                 torch_dtype(dtype))
        self.dtype = next(self.model.parameters()).dtype
        self.dim = int(self.model.config.projection_dim)
        proc = load_image_processor(self.path)
        self._geometry = ClipGeometry.of(proc, self.model.config.vision_config.image_size)
        scale = float(getattr(proc, "rescale_factor", 1 / 255)) if getattr(proc, "do_rescale", True) else 1.0
        mean = getattr(proc, "image_mean", None) if getattr(proc, "do_normalize", True) else None
        std = getattr(proc, "image_std", None) if getattr(proc, "do_normalize", True) else None
        mean = torch.tensor(mean if mean is not None else [0.0] * 3, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(std if std is not None else [1.0] * 3, dtype=torch.float32).view(1, 3, 1, 1)
        # (x * scale - mean) / std as one multiply-add on the device.
        self._mul = (scale / std).to(self.device)
        self._add = (-mean / std).to(self.device)
        self._tokenizer = None
        self._lock = threading.Lock()
        self._ahead = _Prefetcher("mmvc-stage")
        self._resamplers: dict = {}
        self._copy_stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None

    @property
    def model_id(self) -> str:
        return model_label(self._spec, "clip", self.path)

    def _groups(self, images):
        """[((height, width), positions, images of that size)]; a stacked uint8 batch (as Ray
        hands over a fixed-shape column) stays one array."""
        if isinstance(images, np.ndarray) and images.ndim == 4:
            return [(images.shape[1:3], np.arange(len(images)), images)]
        groups: dict[tuple[int, int], list[int]] = {}
        for i, img in enumerate(images):
            groups.setdefault(img.shape[:2], []).append(i)
        return [(hw, np.array(idx), [images[i] for i in idx]) for hw, idx in groups.items()]

    def _stage(self, images):
        """The host half of preparing a model batch: images grouped by size, each group stacked
        into one uint8 tensor (pinned memory on a GPU, so its copy can be asynchronous)."""
        staged = []
        for hw, idx, host in self._groups(images):
            if self.device.type != "cuda":
                if isinstance(host, list):
                    host = np.stack(host)
                elif not host.flags.writeable:
                    host = host.copy()  # Ray's zero-copy batches are read-only; torch wants writable memory
                tensor = torch.from_numpy(np.ascontiguousarray(host))
            else:
                tensor = torch.empty((len(host), *host[0].shape), dtype=torch.uint8, pin_memory=True)
                parallel_copy(host, tensor.numpy())
            staged.append((hw, idx, tensor))
        return staged, len(images)

    def _upload(self, tensor: torch.Tensor) -> torch.Tensor:
        """A staged group onto the device; on a GPU on a side stream, so the copy overlaps the
        model still running on the chunk before (nothing waits for the device until the whole
        call's vectors are read back)."""
        if self.device.type != "cuda":
            return tensor
        with torch.cuda.stream(self._copy_stream):
            on_device = tensor.to(self.device, non_blocking=True)
        current = torch.cuda.current_stream(self.device)
        current.wait_stream(self._copy_stream)
        on_device.record_stream(current)
        return on_device

    def _resampling(self, h: int, w: int):
        """For images of size (h, w): the resize-and-crop as two matrices (rows, columns) on the
        device, or None where it is not a plain crop of a bicubic or bilinear resize. Cached."""
        key = (h, w)
        if key in self._resamplers:
            return self._resamplers[key]
        th, tw = self._geometry.resized(h, w)
        ch, cw = self._geometry.crop_hw or (th, tw)
        mats = None
        if (h, w) == (th, tw) == (ch, cw):
            pass  # already the model's input size (a CPU stage resized it): nothing to resample
        elif self._geometry.mode in KERNELS and ch <= th and cw <= tw:
            top, left = (th - ch) // 2, (tw - cw) // 2
            rows = resample_matrix(h, th)[top:top + ch]
            cols = resample_matrix(w, tw)[left:left + cw]
            dtype = torch.float16 if self.device.type == "cuda" else torch.float32
            mats = tuple(torch.from_numpy(m).to(device=self.device, dtype=dtype) for m in (rows, cols.T.copy()))
        self._resamplers[key] = mats
        return mats

    def _pixels(self, staged, n: int) -> torch.Tensor:
        """Pixel values (n, 3, S, S) in the model's dtype, on its device, from :meth:`_stage`.

        Resizing and cropping are two matrix products with antialiased bicubic weights (PIL's,
        which CLIP's processor uses), in fp16 on a GPU: exact for 8-bit input, and a fraction
        of the GPU time of ``interpolate(antialias=True)``, whose cost showed up as a tenth of
        CLIP ViT-B/32's throughput on an H200."""
        out = None
        for (h, w), idx, tensor in staged:
            x = self._upload(tensor)
            mats = self._resampling(h, w)
            if mats is not None:
                x = x.permute(0, 3, 1, 2).to(mats[0].dtype, memory_format=torch.contiguous_format)
                # Columns first, clipped between the passes, as PIL's 8-bit resampler does.
                x = torch.matmul(mats[0], torch.matmul(x, mats[1]).clamp_(0, 255)).clamp_(0, 255).float()
            else:
                x = x.permute(0, 3, 1, 2).float()
                th, tw = self._geometry.resized(h, w)
                mode = self._geometry.mode
                if (th, tw) != (h, w):
                    x = torch.nn.functional.interpolate(x, size=(th, tw), mode=mode, antialias=mode != "nearest",
                                                        align_corners=False if mode != "nearest" else None)
                    x = x.round_().clamp_(0, 255)
                if self._geometry.crop_hw:
                    x = center_crop(x, *self._geometry.crop_hw)
            x = torch.addcmul(self._add, x, self._mul).to(self.dtype)
            if len(staged) == 1:
                return x.contiguous()
            if out is None:
                out = torch.empty((n, *x.shape[1:]), dtype=self.dtype, device=self.device)
            out[torch.from_numpy(idx).to(self.device)] = x
        return out

    def _prepare(self, images) -> torch.Tensor:
        return self._pixels(*self._stage(images))

    def _staged_chunks(self, chunks: list):
        """Staged chunks; on a GPU the next chunk is staged on a helper thread while the current
        one is queued. CLIP ViT-B/32 at batch 256 on an H200 is bound by the host queueing its
        kernels (8.7 of 9.3 ms), so the copies must not sit on the same thread."""
        return self._ahead.map(self._stage, chunks, self.device.type == "cuda")

    def embed_images(self, images) -> np.ndarray:
        """Images as a list of RGB uint8 arrays of any sizes, or one (n, H, W, 3) uint8 array."""
        if isinstance(images, np.ndarray) and images.ndim == 4 and images.dtype == np.uint8 and images.shape[3] == 3:
            arrays = images
        else:
            arrays = [as_rgb(img) for img in images]
        if len(arrays) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = [arrays[s:s + self.batch_size] for s in range(0, len(arrays), self.batch_size)]
        parts = []
        with torch.inference_mode():
            for staged in self._staged_chunks(chunks):
                parts.append(_select(self.model.get_image_features(pixel_values=self._pixels(*staged))))
            return to_float32(torch.nn.functional.normalize(torch.cat(parts).float(), p=2, dim=1))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Text queries in the image space, for text → image search over ``clip_vector``."""
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            if self._tokenizer is None:
                from transformers import AutoTokenizer

                self._tokenizer = load_pretrained(AutoTokenizer.from_pretrained, self.path, "image model's tokenizer", "clip")
        max_length = int(self.model.config.text_config.max_position_embeddings)
        parts = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                with self._lock:
                    enc = self._tokenizer(texts[start:start + self.batch_size], padding=True, truncation=True,
                                          max_length=max_length, return_tensors="pt")
                enc = {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
                emb = _select(self.model.get_text_features(**enc))
                parts.append(torch.nn.functional.normalize(emb.float(), p=2, dim=1))
            return to_float32(torch.cat(parts))

    def embed_videos(self, videos: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
        """One vector per video: its keyframes' embeddings averaged, then re-normalised (the mean
        of unit vectors is shorter than one). A video without keyframes gets a NaN row."""
        frames, counts = [], []
        for video in videos:
            video = frame_list(video)
            frames.extend(video)
            counts.append(len(video))
        flat = self.embed_images(frames)
        return pool_segments(flat, counts, self.dim)
