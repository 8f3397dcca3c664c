"""Where an export is written or read: a local folder, or any fsspec URL (s3://, gs://, memory://).

Local folders use plain files (temp name, flush, rename, folder fsync); other filesystems go
through fsspec, whose ``mv`` is a rename where the backend has one and a copy + delete where it
does not (object stores), which is still never a half-visible shard: readers look only at the
names the index lists, and the index is written last.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from mmvc.errors import BadInputError, StorageError, storage_error


def _is_url(target: str) -> bool:
    return "://" in target and not target.startswith("file://")


class ExportTarget:
    def __init__(self, target: str):
        self.spec = target
        if target.startswith("file://"):
            target = target[len("file://"):]
        self.local = not _is_url(target)
        if self.local:
            self.root = os.path.abspath(target)
            self.fs: Any = None
        else:
            try:
                from fsspec.core import url_to_fs

                self.fs, self.root = url_to_fs(target)
            except (ImportError, ValueError) as e:
                raise BadInputError(f"cannot use {target!r} as an export target: {e}", "use a folder or an fsspec URL such as s3://bucket/prefix/") from None
            self.root = self.root.rstrip("/")

    def path(self, name: str) -> str:
        return os.path.join(self.root, name) if self.local else f"{self.root}/{name}"

    def url(self, name: str) -> str:
        if self.local:
            return self.path(name)
        return self.fs.unstrip_protocol(self.path(name))

    def names(self) -> list[str]:
        """File names directly in the target ([] when it does not exist)."""
        try:
            if self.local:
                return sorted(os.listdir(self.root)) if os.path.isdir(self.root) else []
            if not self.fs.exists(self.root):
                return []
            return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(self.root, detail=False))
        except NotADirectoryError:
            raise BadInputError(f"{self.spec} is a file, not a folder", "name a folder (new or empty) to export into") from None
        except OSError as e:
            raise storage_error(e, f"listing {self.spec}") from None

    def makedirs(self) -> None:
        try:
            if self.local:
                os.makedirs(self.root, exist_ok=True)
            else:
                self.fs.makedirs(self.root, exist_ok=True)
        except OSError as e:
            raise storage_error(e, f"creating {self.spec}") from None

    def size(self, name: str) -> int | None:
        try:
            if self.local:
                return os.stat(self.path(name)).st_size
            return int(self.fs.size(self.path(name)))
        except (FileNotFoundError, OSError):
            return None

    def open_read(self, name: str):
        return open(self.path(name), "rb") if self.local else self.fs.open(self.path(name), "rb")

    def read(self, name: str) -> bytes | None:
        try:
            with self.open_read(name) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def tmp_name(self, name: str) -> str:
        return f".{name}.tmp-{os.getpid()}-{threading.get_ident()}"

    def open_write(self, tmp: str):
        try:
            return open(self.path(tmp), "wb", buffering=0) if self.local else self.fs.open(self.path(tmp), "wb")
        except OSError as e:
            raise storage_error(e, f"writing {self.url(tmp)}") from None

    def commit(self, tmp: str, name: str, f=None, durable: bool = True) -> None:
        """Make ``tmp`` (already closed, or ``f`` still open) visible as ``name``."""
        try:
            if self.local:
                if f is not None and durable:
                    os.fsync(f.fileno())
                if f is not None:
                    f.close()
                os.replace(self.path(tmp), self.path(name))
            else:
                if f is not None:
                    f.close()
                self.fs.mv(self.path(tmp), self.path(name))
        except OSError as e:
            raise storage_error(e, f"writing {self.url(name)}") from None

    def sync_dir(self) -> None:
        if self.local:
            from mmvc.core.atomicfile import fsync_dir

            fsync_dir(self.root)

    def write_atomic(self, name: str, data: bytes) -> None:
        if self.local:
            from mmvc.core.atomicfile import atomic_write

            try:
                atomic_write(self.path(name), data)
            except OSError as e:
                raise storage_error(e, f"writing {self.url(name)}") from None
            return
        tmp = self.tmp_name(name)
        with self.fs.open(self.path(tmp), "wb") as f:
            f.write(data)
        self.fs.mv(self.path(tmp), self.path(name))

    def remove(self, name: str) -> None:
        try:
            if self.local:
                os.unlink(self.path(name))
            else:
                self.fs.rm(self.path(name))
        except FileNotFoundError:
            pass
        except OSError as e:
            raise StorageError(f"cannot remove {self.url(name)}: {e}") from None
