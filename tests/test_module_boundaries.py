"""Modules share only public names: what two modules both need is named for what it is and made
public where it lives, never reached as another module's ``_private`` name. (Which package may
import which is the import-linter contract in pyproject.toml.)"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "mmvc"

PENDING: set[tuple[str, str, str]] = set()  # private imports still to be made public (none)


def _private_imports():
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("mmvc") and node.module != module:
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        yield module, node.module, alias.name


def test_no_module_imports_another_modules_private_names():
    found = sorted(set(_private_imports()) - PENDING)
    assert not found, "\n".join(f"{a} imports {name} from {b}: make it public there, named for what it is" for a, b, name in found)


def test_pending_exceptions_still_occur():
    """One that no longer occurs is dropped from PENDING, so the list never grows stale."""
    stale = PENDING - set(_private_imports())
    assert not stale, f"no longer imported, drop from PENDING: {sorted(stale)}"


def test_loading_every_module_of_cli_repo_ops_services_and_core_loads_no_heavy_package():
    """Heavy packages load inside the functions that use them, so `mmvc --help`, `status` or
    `log`, and any verb's module, start without them."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import mmvc.cli, mmvc.core, mmvc.ops, mmvc.repo, mmvc.services\n"
        "for pkg in (mmvc.cli, mmvc.core, mmvc.ops, mmvc.services):\n"
        "    for m in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "heavy = ('ray', 'torch', 'transformers', 'lance', 'pyarrow', 'faiss', 'webdataset', 'numpy', 'PIL', 'av')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
