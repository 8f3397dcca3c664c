"""Folders of media with sidecar metadata, local or behind any fsspec URL.

Every file is an item except its metadata: a sidecar ``<name>.json`` (for ``a.jpg``:
``a.jpg.json`` or ``a.json``) describes one file; a ``metadata.jsonl`` / ``metadata.csv`` (the
Hugging Face ImageFolder layout, a ``file_name`` column relative to its folder) describes many.
Known keys (caption, transcript, license, source) keep their meaning; other scalar fields go to
``extra`` (only the ``--meta`` ones when given). FineVideo's mp4 + json layout is this with
video items and its own caption field.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
from collections.abc import Callable, Iterator

from mmvc.core.modality import VIDEO, extension_modality
from mmvc.core.pathrules import is_protected_component
from mmvc.errors import BadInputError
from mmvc.importers.base import Connector, Item, Skip, Unit, scalar_extra
from mmvc.importers.fsio import list_files, source_file

UNIT_FILES = 5000
TABLE_SIDECARS = ("metadata.jsonl", "metadata.csv")
KNOWN = ("caption", "transcript", "license", "source")


def parse_json(data: bytes, where: str):
    try:
        return json.loads(data)
    except json.JSONDecodeError as e:
        raise BadInputError(f"{where} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno} (char {e.pos})",
                            "fix the file, or move it out of the source") from None
    except UnicodeDecodeError as e:
        raise BadInputError(f"{where} is not UTF-8 JSON ({e})", "fix the file, or move it out of the source") from None


class FolderConnector(Connector):
    name = "folder"
    only_modality: int | None = None  # a subclass that imports one kind of file

    def plan(self) -> list[Unit]:
        files: dict[str, dict] = {}
        for p in self.paths:
            files.update(dict(list_files(self.fs, p)))
        # a repository's own store (or a Git checkout's) is never data, wherever the source is
        files = {p: i for p, i in files.items() if not any(map(is_protected_component, self.relative(p).split("/")))}
        table_meta = self._table_sidecars(files)
        names = set(files)
        items = []
        for path in sorted(files):
            base = posixpath.basename(path)
            if base in TABLE_SIDECARS or self._is_sidecar(path, names):
                continue
            if self.only_modality is not None and extension_modality(path) != self.only_modality:
                continue
            side = self._sidecar_for(path, names)
            f = source_file(self.fs, path, files[path])
            sf = source_file(self.fs, side, files[side]) if side else None
            items.append((f, sf, table_meta.get(path)))
        units = []
        for start in range(0, len(items), UNIT_FILES):
            chunk = items[start : start + UNIT_FILES]
            used = tuple(x for f, sf, _ in chunk for x in (f, sf) if x is not None)
            units.append(Unit(f"{chunk[0][0].path}+{len(chunk)}", len(chunk), {"items": chunk}, used))
        return units

    @staticmethod
    def _is_sidecar(path: str, names: set) -> bool:
        if not path.endswith(".json"):
            return False
        stem = path[: -len(".json")]
        if stem in names:  # a.jpg.json
            return True
        d = posixpath.dirname(path)
        prefix = stem + "."
        return any(n.startswith(prefix) and posixpath.dirname(n) == d and not n.endswith(".json") for n in _siblings(names, d, stem))

    @staticmethod
    def _sidecar_for(path: str, names: set) -> str | None:
        if path + ".json" in names:
            return path + ".json"
        stem, ext = posixpath.splitext(path)
        if ext and ext != ".json" and stem + ".json" in names:
            return stem + ".json"
        return None

    def _table_sidecars(self, files: dict) -> dict[str, dict]:
        """file path -> its row of a metadata.jsonl / metadata.csv in its folder or above."""
        out: dict[str, dict] = {}
        for path in sorted(files, key=lambda p: p.count("/")):  # deeper tables override shallower ones
            base = posixpath.basename(path)
            if base not in TABLE_SIDECARS:
                continue
            d = posixpath.dirname(path)
            rel = self.relative(path)
            with self.fs.open(path, "rb") as fh:
                raw = fh.read()
            if base.endswith(".jsonl"):
                rows = []
                for n, line in enumerate(raw.decode("utf-8").splitlines(), 1):
                    if line.strip():
                        rows.append(parse_json(line.encode(), f"{rel} line {n}"))
            else:
                rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
            for n, row in enumerate(rows):
                name = row.get("file_name") if isinstance(row, dict) else None
                if not name:
                    raise BadInputError(f"{rel} row {n} has no file_name", "each row must name its file in a file_name column")
                out[posixpath.normpath(posixpath.join(d, name))] = {"row": row, "file": rel, "index": n}
        return out

    def read(self, unit: Unit, wanted: Callable[[int], bool]) -> Iterator[Item | Skip]:
        for i, (f, sf, table) in enumerate(unit.spec["items"]):
            if not wanted(i):
                continue
            rel = self.relative(f.path)
            location = {"file": rel}
            doc = {}
            if table is not None:
                doc.update({k: v for k, v in table["row"].items() if k != "file_name"})
                location["metadata"] = f"{table['file']} row {table['index']}"
            if sf is not None:
                with self.fs.open(sf.path, "rb") as fh:
                    side = parse_json(fh.read(), self.relative(sf.path))
                if isinstance(side, dict):
                    doc.update(side)
                location["sidecar"] = self.relative(sf.path)
            meta = self.base_meta(location, f)
            self.describe(meta, doc)
            yield Item(self.item_key(rel), self.only_modality if self.only_modality is not None else self.options.modality,
                       meta, location, path=f.path, size=f.size)

    def item_key(self, rel: str) -> str:
        return rel

    def describe(self, meta: dict, doc: dict) -> None:
        """Carry a sidecar's fields into the item's metadata."""
        o = self.options
        for k in ("caption", "transcript"):
            if isinstance(doc.get(k), str):
                meta[k] = doc[k]
        if not o.license:
            lic = doc.get(o.license_field or "license")
            if isinstance(lic, str) and lic:
                meta["license"] = lic
        extra = scalar_extra(doc, o.meta_fields or None, skip=KNOWN)
        if extra:
            meta["extra"] = extra


def _siblings(names: set, d: str, stem: str):
    # the common case (no sibling) must not scan every name: probe the likely extensions first
    for ext in (".jpg", ".jpeg", ".png", ".webp", ".mp4", ".webm", ".mkv", ".mov", ".flac", ".wav", ".mp3", ".txt", ".gif"):
        if stem + ext in names:
            yield stem + ext
            return
    prefix = stem + "."
    for n in names:
        if n.startswith(prefix):
            yield n


class FineVideoConnector(FolderConnector):
    """FineVideo: ``<id>.mp4`` beside ``<id>.json`` (title, description, YouTube fields)."""

    name = "finevideo"
    default_source = "finevideo"
    only_modality = VIDEO

    def describe(self, meta: dict, doc: dict) -> None:
        found = doc.get("content_metadata")
        content = found if isinstance(found, dict) else {}
        for cand in (doc.get("caption"), content.get("description"), doc.get("description"), doc.get("title"), doc.get("youtube_title")):
            if isinstance(cand, str) and cand:
                meta["caption"] = cand
                break
        super().describe(meta, doc)
