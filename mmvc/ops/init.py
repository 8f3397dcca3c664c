from __future__ import annotations

import os
import shutil
import tempfile

from mmvc.errors import BadInputError, storage_error


def init(path: str = ".", ungated: bool = False, branch: str = "main"):
    """Create ``.mmvc/`` under ``path``. The folder is assembled under a temp name and renamed,
    so an interrupted init leaves either no repository or a complete one."""
    from mmvc.core.atomicfile import atomic_write
    from mmvc.core.config import initial_config_text
    from mmvc.core.layout import MMVC_DIR, Layout
    from mmvc.core.refs import RefStore
    from mmvc.core.store import LocalObjectStore
    from mmvc.services.repository import Repository

    root = os.path.abspath(path)
    target = os.path.join(root, MMVC_DIR)
    if os.path.exists(target):
        raise BadInputError(f"{root} is already an mmvc repository", "use it as it is, or remove its .mmvc/ folder to start over")
    try:
        os.makedirs(root, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".mmvc-init-", dir=root)
        try:
            layout = Layout(tmp)
            atomic_write(layout.config, initial_config_text(gated=not ungated).encode())
            RefStore(tmp).init(branch)
            LocalObjectStore.init_layout(layout.objects)
            _install_sample_hooks(layout.hooks)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    except OSError as e:
        raise storage_error(e, f"creating {target}") from e
    return Repository(root)


def _install_sample_hooks(dest: str) -> None:
    """Copy the sample hooks that ship with mmvc as ``<name>.sample`` (inactive until renamed)."""
    from importlib import resources

    os.makedirs(dest, exist_ok=True)
    try:
        samples = resources.files("mmvc") / "data" / "hooks"
        entries = list(samples.iterdir()) if samples.is_dir() else []
    except (FileNotFoundError, ModuleNotFoundError):
        entries = []
    for entry in entries:
        if entry.name.startswith((".", "_")):
            continue
        out = os.path.join(dest, entry.name + ".sample")
        with open(out, "wb") as f:
            f.write(entry.read_bytes())
        os.chmod(out, 0o755)
