"""Connector names → classes: the built-in ones, then those other packages register under the
entry-point group ``mmvc.connectors`` (``name = "package.module:ClassName"``)."""

from __future__ import annotations

import importlib
import posixpath

from mmvc.errors import BadInputError, MmvcError
from mmvc.importers.base import Connector, ImportOptions
from mmvc.importers.fsio import expand, filesystem, is_url, remote_error, split_scheme, upstream_revision

ENTRY_POINT_GROUP = "mmvc.connectors"
BUILTIN = {
    "folder": "mmvc.importers.folder:FolderConnector",
    "parquet": "mmvc.importers.tables:ParquetConnector",
    "jsonl": "mmvc.importers.tables:JsonlConnector",
    "csv": "mmvc.importers.tables:CsvConnector",
    "coco": "mmvc.importers.coco:CocoConnector",
    "librispeech": "mmvc.importers.librispeech:LibriSpeechConnector",
    "finevideo": "mmvc.importers.folder:FineVideoConnector",
    "webdataset": "mmvc.importers.webdataset:WebDatasetConnector",
}


def _entry_points() -> dict:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def connector_names() -> list[str]:
    return sorted(set(BUILTIN) | set(_entry_points()))


def connector_class(name: str) -> type[Connector]:
    if name in BUILTIN:
        mod, _, attr = BUILTIN[name].partition(":")
        return getattr(importlib.import_module(mod), attr)
    eps = _entry_points()
    if name not in eps:
        raise BadInputError(f"no connector named {name!r}", f"known connectors: {', '.join(connector_names())}; or give a path or URL")
    try:
        cls = eps[name].load()
    except Exception as e:  # noqa: BLE001 — a broken plug-in must not look like an mmvc bug
        raise BadInputError(f"the connector {name!r} ({eps[name].value}) failed to load: {e}", "reinstall the package that provides it") from None
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise BadInputError(f"the connector {name!r} ({eps[name].value}) is not an mmvc Connector subclass", "fix the package's entry point")
    return cls


def _root_of(fs, paths: list[str]) -> str:
    dirs = []
    for p in paths:
        try:
            dirs.append(p.rstrip("/") if fs.isdir(p) else posixpath.dirname(p))
        except Exception:  # noqa: BLE001 — listing errors surface when the connector plans
            dirs.append(posixpath.dirname(p))
    root = posixpath.commonpath(dirs) if len(dirs) > 1 else dirs[0]
    return root


def _auto(fs, paths: list[str], options: ImportOptions) -> tuple[str, list[str]]:
    """Which built-in connector a bare path or URL means: tar shards with their shard index (an
    mmvc export or a wids dataset), tables when it holds tables (a ``--text-field`` makes that
    explicit), tar shards, else a folder of files."""
    from mmvc.importers.fsio import list_files
    from mmvc.importers.tables import table_format
    from mmvc.importers.webdataset import PLAN_NAME, is_shard_index

    files = []
    for p in paths:
        files += [f for f, _ in list_files(fs, p)]
    indexes = [f for f in files if is_shard_index(fs, f)]
    if indexes and all(f in indexes or f.endswith(".tar") or posixpath.basename(f) == PLAN_NAME for f in files):
        return "webdataset", indexes
    tables = [f for f in files if table_format(f)]
    if options.split:
        split = options.split
        tables_split = [f for f in tables if _in_split(f, split)]
        if not tables_split:
            raise BadInputError(f"no table files for split {split!r} under {paths[0]}", f"tables found: {', '.join(posixpath.basename(t) for t in tables[:10]) or 'none'}")
        tables = tables_split
    if tables and (options.text_field or len(tables) == len(files)):
        for fmt in ("parquet", "jsonl", "csv"):
            picked = [t for t in tables if table_format(t) == fmt]
            if picked:
                return fmt, picked
    shards = [f for f in files if f.endswith(".tar")]
    if shards and len(shards) == len(files):
        return "webdataset", shards
    return "folder", paths


def _in_split(path: str, split: str) -> bool:
    parts = path.split("/")
    return split in parts[:-1] or parts[-1].startswith(split + "-") or parts[-1].startswith(split + ".") or parts[-1].startswith(split + "_")


def _hf_at_revision(uri: str, revision: str) -> str:
    """``hf://datasets/org/name/…`` read at ``revision`` (HfFileSystem's ``name@rev`` form)."""
    from urllib.parse import quote

    parts = uri[len("hf://"):].split("/")
    i = 2 if parts[0] in ("datasets", "spaces", "models") else 1
    if len(parts) > i and "@" not in parts[i]:
        parts[i] += "@" + quote(revision, safe="")
    return "hf://" + "/".join(parts)


def open_connector(kind: str, sources: list[str], options: ImportOptions) -> Connector:
    """A connector for ``kind`` (a connector name, or the first source itself) over ``sources``."""
    import os

    if kind not in BUILTIN and (is_url(kind) or os.path.exists(kind)) and kind not in _entry_points():
        sources, kind = [kind, *sources], "auto"
    if not sources:
        raise BadInputError(f"`mmvc import {kind}` needs a source", "e.g. `mmvc import parquet data/*.parquet --text-field text`")
    if kind != "auto":
        connector_class(kind)  # an unknown name is reported before any listing
    schemes = {split_scheme(s)[0] for s in sources}
    if len(schemes) > 1:
        raise BadInputError(f"sources mix URL schemes ({', '.join(sorted(schemes))})", "import each source separately")
    given = sources
    if options.revision and schemes == {"hf"}:
        sources = [_hf_at_revision(s, options.revision) for s in sources]
    fs, _ = filesystem(sources[0])
    paths: list[str] = []
    try:
        for s in sources:
            _, p = filesystem(s)
            got = expand(fs, p)
            if not got:
                raise BadInputError(f"{s} matched nothing", "check the path or pattern")
            for q in got:
                if not fs.exists(q):
                    raise BadInputError(f"{q if split_scheme(s)[0] == 'file' else s} does not exist", "check the path or URL")
            paths += got
        root = _root_of(fs, paths)
        if kind == "auto":
            kind, paths = _auto(fs, paths, options)
        revision = upstream_revision(fs, root, options.revision) if split_scheme(sources[0])[0] == "hf" else options.revision
    except MmvcError:
        raise
    except Exception as e:  # noqa: BLE001 — remote failures become typed errors
        err = remote_error(e, sources[0])
        if err is e:
            raise
        raise err from None
    cls = connector_class(kind)
    uri = given[0] if len(given) == 1 else f"{given[0]} (+{len(given) - 1} more)"
    if not is_url(given[0]):
        uri = "file://" + (os.path.abspath(given[0]) if len(given) == 1 else root)
    conn = cls(uri, fs, paths, root, options)
    conn.revision = revision
    return conn
