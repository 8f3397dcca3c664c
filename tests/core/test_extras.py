"""The optional extras: pyproject.toml and mmvc.core.extras agree, and a missing package becomes
one typed error naming the extra. A module is made missing the way Python itself blocks an
import: ``sys.modules[name] = None``."""

from __future__ import annotations

import os
import re
import sys
import tomllib

import pytest

from mmvc.core.extras import EXTRAS, installed, missing_extra, require
from mmvc.errors import ExitCode, ExtraMissingError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _project() -> dict:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _distributions(extra: str, extras: dict) -> set[str]:
    """The distributions an extra brings, self-references (``mmvc[catalog]``) expanded."""
    out = set()
    for req in extras[extra]:
        inner = re.fullmatch(r"mmvc\[([a-z,]+)\]", req)
        if inner:
            for e in inner.group(1).split(","):
                out |= _distributions(e, extras)
        else:
            out.add(_name(req))
    return out


def _norm(names) -> set[str]:
    return {n.lower().replace("_", "-") for n in names}


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_pyproject_extra_brings_what_the_table_says(extra):
    assert _distributions(extra, _project()["optional-dependencies"]) == _norm(EXTRAS[extra].values())


def test_all_is_every_extra_and_the_core_needs_none_of_them():
    project = _project()
    every = set().union(*(_norm(m.values()) for m in EXTRAS.values()))
    assert _distributions("all", project["optional-dependencies"]) == every
    assert not every & {_name(r) for r in project["dependencies"]}
    assert "mmvc[all,lint]" in project["optional-dependencies"]["test"]


def test_require_passes_when_installed():
    assert installed("pyarrow", "lance")
    require("catalog")
    require("process", "ray", "torch")


def test_require_names_the_extra_the_code_and_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "lance", None)
    with pytest.raises(ExtraMissingError) as e:
        require("catalog", "pyarrow", "lance", what="mmvc query")
    err = e.value
    assert err.exit_code == ExitCode.EXTRA_MISSING == 14
    assert err.message.startswith("mmvc query needs the optional catalog packages") and "pylance" in err.message
    assert "pyarrow" not in err.message  # only what is missing is named
    assert err.hint == "pip install 'mmvc[catalog]'"
    assert (err.extra, err.missing) == ("catalog", ("lance",))
    assert not installed("lance")


def test_require_refuses_a_module_its_extra_does_not_bring():
    with pytest.raises(ValueError):
        require("catalog", "torch")


def test_an_import_error_of_an_optional_module_maps_to_its_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError) as e:
        import faiss  # noqa: F401
    err = missing_extra(e.value)
    assert err is not None and err.extra == "process" and err.hint == "pip install 'mmvc[process]'"


def test_other_import_errors_are_not_an_extra():
    assert missing_extra(ModuleNotFoundError("no", name="no_such_module_anywhere")) is None
    # torch is installed: an import error inside it is a broken install, not a missing extra
    assert missing_extra(ModuleNotFoundError("no", name="torch._no_such_part")) is None
