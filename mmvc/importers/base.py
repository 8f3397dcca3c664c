"""What a connector is: a small class that turns a source into items.

A connector first *plans* (lists the source, cheaply) and returns units of work: a Parquet
row-group range, a tar shard, a chunk of a folder. Each unit knows how many candidate items it
holds, so ``--limit`` and ``--sample`` pick the same items on every run without reading them.
Units are then *read*, possibly in other processes, each yielding items in a fixed order.
A connector and its units must therefore pickle (fsspec filesystems do).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar


@dataclass
class ImportOptions:
    """The options every connector may read; each uses the ones that mean something to it."""

    text_field: str | None = None
    id_field: str | None = None
    meta_fields: list[str] = field(default_factory=list)
    license: str | None = None
    license_field: str | None = None
    source: str | None = None
    prefix: str | None = None
    modality: int | None = None
    split: str | None = None
    revision: str | None = None
    retrieved: int = 0

    def key_fields(self) -> dict:
        """The options that decide which items exist and under which keys (a checkpoint is only
        valid for the same ones)."""
        return {"text_field": self.text_field, "id_field": self.id_field, "meta": self.meta_fields, "license": self.license,
                "license_field": self.license_field, "source": self.source, "prefix": self.prefix, "modality": self.modality,
                "split": self.split, "revision": self.revision}


@dataclass(frozen=True)
class SourceFile:
    """A file of the source as listed at plan time; re-checked after it is read."""

    path: str  # path inside the filesystem
    size: int
    etag: str | None = None  # the store's ETag / content hash, or the modification time where nothing better exists

    def fingerprint(self) -> list:
        return [self.size, self.etag]


@dataclass
class Unit:
    """One piece of work: ``count`` candidate items, read by ``Connector.read``."""

    name: str  # stable across runs: what a checkpoint remembers
    count: int
    spec: dict
    files: tuple[SourceFile, ...] = ()


@dataclass
class Item:
    """What a connector yields. Exactly one of ``data`` (the bytes) or ``path`` (a file of the
    source filesystem, streamed into the store) is set."""

    key: str  # relative to the import prefix
    modality: int | None  # None: detected from the bytes
    meta: dict
    location: dict
    data: bytes | None = None
    path: str | None = None
    size: int = 0


@dataclass
class Rows:
    """Many items at once, as parallel lists (the table connectors' fast path): keys relative to
    the prefix, the bytes of each (bytes or memoryview), and each one's canonical metadata."""

    keys: list[str]
    datas: list
    metas: list[str]
    modality: int


@dataclass
class Skip:
    """A candidate that could not become an item, with the reason (the rest still imports)."""

    location: str
    reason: str


class Connector:
    """Base class. Subclasses set ``name`` and implement ``plan`` and ``read``.

    ``uri`` names the source as the user gave it; ``fs`` is its fsspec filesystem and ``root``
    the path inside it that keys are made relative to."""

    name: ClassVar[str] = ""
    default_source: ClassVar[str | None] = None
    preload: ClassVar[tuple[str, ...]] = ()  # modules the reading workers' fork server imports once for all of them

    def __init__(self, uri: str, fs, paths: list[str], root: str, options: ImportOptions):
        self.uri = uri
        self.fs = fs
        self.paths = paths
        self.root = root
        self.options = options
        self.revision: str | None = None

    def source_name(self) -> str:
        if self.options.source:
            return self.options.source
        if self.default_source:
            return self.default_source
        base = self.root.rstrip("/").rsplit("/", 1)[-1].split("@", 1)[0]
        return base or self.name

    def default_prefix(self) -> str:
        """Where the items go without --prefix: under the source's name."""
        return self.source_name()

    def plan(self) -> list[Unit]:
        raise NotImplementedError

    def read(self, unit: Unit, wanted: Callable[[int], bool]) -> Iterator[Item | Rows | Skip]:
        """Yield the unit's candidates in order; ``wanted(i)`` says whether candidate ``i`` (0-based
        within the unit) is selected, so unselected ones cost as little as possible."""
        raise NotImplementedError

    # -- helpers shared by connectors

    def relative(self, path: str) -> str:
        root = self.root.rstrip("/")
        if root and path.startswith(root + "/"):
            return path[len(root) + 1 :]
        return path.rsplit("/", 1)[-1]

    def base_meta(self, location: dict, file: SourceFile | None = None) -> dict:
        prov = {"connector": self.name, "uri": self.uri, "location": location, "retrieved": self.options.retrieved}
        if self.revision:
            prov["revision"] = self.revision
        if file is not None and file.etag:
            prov["etag"] = file.etag
        meta = {"provenance": prov, "source": self.source_name()}
        if self.options.license:
            meta["license"] = self.options.license
        return meta

    def list_file(self, path: str) -> SourceFile:
        from mmvc.importers.fsio import source_file

        return source_file(self.fs, path)


def scalar_extra(doc: dict, wanted: list[str] | None, skip: tuple = ()) -> dict:
    """The ``extra`` metadata: the named fields (or every scalar field) that are JSON scalars."""
    out = {}
    names = wanted if wanted else [k for k in doc if k not in skip]
    for k in names:
        v = doc.get(k)
        if v is None or isinstance(v, (str, bool, int)) or (isinstance(v, float) and v == v and v not in (float("inf"), float("-inf"))):
            if wanted or v is not None:
                out[k] = v
    return out


class MetaTemplate:
    """Canonical metadata JSON for many rows that differ in a few places, built by splicing
    instead of serialising a dict per row (a million rows: seconds saved, same bytes).

    ``doc`` is the metadata with ``MetaTemplate.slot(name)`` where a row's value goes; ``render``
    takes each slot's value already as JSON text. The slots must be values, not keys, so the
    key order of the canonical form does not depend on them."""

    _MARK = "\x1fmmvc-slot:"

    @classmethod
    def slot(cls, name: str) -> str:
        return f"{cls._MARK}{name}\x1f"

    def __init__(self, doc: dict):
        from mmvc.core.objects import canonical_json

        text = canonical_json(doc).decode("utf-8")
        quoted = canonical_json(self._MARK).decode("utf-8")[:-1]  # the marker as JSON writes it, open quote included
        self.parts: list[str] = []
        self.names: list[str] = []
        while True:
            i = text.find(quoted)
            if i < 0:
                self.parts.append(text)
                break
            j = text.index('"', i + len(quoted))
            name = text[i + len(quoted) : j].replace("\\u001f", "")
            self.parts.append(text[:i])
            self.names.append(name)
            text = text[j + 1 :]

    def render_values(self, values: list[str]) -> str:
        """``render`` with the values in slot order (the order of ``names``), for hot loops."""
        p = self.parts
        if len(values) == 1:
            return p[0] + values[0] + p[1]
        if len(values) == 2:
            return p[0] + values[0] + p[1] + values[1] + p[2]
        out = [p[0]]
        for v, part in zip(values, p[1:]):
            out.append(v)
            out.append(part)
        return "".join(out)

    def render(self, **values: str) -> str:
        parts = self.parts
        out = [parts[0]]
        for k, name in enumerate(self.names):
            out.append(values[name])
            out.append(parts[k + 1])
        return "".join(out)
