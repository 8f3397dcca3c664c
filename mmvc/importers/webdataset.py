"""WebDataset tar shards: consecutive members sharing a key (``dir/0001.jpg``, ``dir/0001.txt``,
``dir/0001.json``) form a sample. A sample's media member becomes the item; its ``.txt`` is
the caption (the transcript for audio) and its ``.json`` fields its metadata. A sample with no
media is a text item. Keys are ``<shard path without .tar>/<sample key>.<ext>``.

The shards can be named one by one (or by a brace range), or by a folder or a shard index
(``index.json`` in the ``wids`` format, whose urls are relative to it). An mmvc export is known
by its index's ``mmvc`` object: each of its samples' ``.json`` names the item it was made from,
so the item comes back as it was (its key, modality, caption, transcript, license, source,
extra fields and provenance, and nothing else: importing an export of a version gives that
version's items again), under no prefix unless ``--prefix`` asks for one, and only when the
payload's BLAKE3 is the ``oid`` its ``.json`` records. An item a mixture drew twice comes back
once.

Member names are checked before anything is read: an absolute name or one with a ``..``
component is refused, so a hostile shard cannot make a key that escapes its prefix. A sparse
member (GNU or PAX sparse) is skipped with a reason: a 10 KiB member may declare 2 GiB of holes,
which reading it would turn into 2 GiB of memory and of stored zeros.
"""

from __future__ import annotations

import json
import posixpath
import tarfile
from collections.abc import Callable, Iterator

from mmvc.core.modality import AUDIO, BY_NAME, TEXT, UNKNOWN, extension_modality
from mmvc.errors import BadInputError
from mmvc.importers.base import Connector, Item, Skip, Unit, scalar_extra
from mmvc.importers.folder import KNOWN

CAPTION_EXTS = ("txt", "caption", "cap", "text")
INDEX_NAME = "index.json"  # what `mmvc export` and wids call a shard index
PLAN_NAME = ".mmvc-export.json"  # an unfinished export's plan, beside its shards
WIDS_KIND = "wids-shard-index-v1"
RESTORED = ("caption", "extra", "license", "provenance", "source", "transcript")  # the export's sample metadata


def sample_key(name: str) -> tuple[str, str]:
    """(sample key, extension) the way webdataset splits a member name: at the first dot of the
    file name."""
    d, base = posixpath.split(name)
    stem, dot, ext = base.partition(".")
    return (f"{d}/{stem}" if d else stem), ext


def check_member(shard: str, name: str) -> None:
    parts = name.split("/")
    if name.startswith("/") or ".." in parts or "\\" in name or "\0" in name:
        raise BadInputError(f"refusing {shard}: member {name!r} would escape the import prefix",
                            "the shard is malformed or hostile; nothing from it was staged")


def _members(fs, path: str):
    fh = fs.open(path, "rb")
    try:
        with tarfile.open(fileobj=fh, mode="r|*") as tar:
            for m in tar:
                yield m, tar
    finally:
        fh.close()


class WebDatasetConnector(Connector):
    name = "webdataset"

    def _resolved(self) -> tuple[list[str], dict | None]:
        """(the shards, the ``mmvc`` object of the export they belong to or None), from the
        paths given: shards, folders of shards, or shard indexes."""
        if not hasattr(self, "_shards"):
            shards: list[str] = []
            export = None
            for p in self.paths:
                index = None
                if self.fs.isdir(p):
                    found = posixpath.join(p.rstrip("/"), INDEX_NAME)
                    if self.fs.isfile(found):
                        index = found
                    else:
                        tars = sorted(f for f in self.fs.find(p) if f.endswith(".tar"))
                        if not tars:
                            raise BadInputError(f"{p} holds no .tar shards and no {INDEX_NAME}", "point at the shards or at their folder")
                        shards += tars
                elif posixpath.basename(p) == INDEX_NAME or p.endswith(".json"):
                    index = p
                else:
                    shards.append(p)
                    sibling = posixpath.join(posixpath.dirname(p), INDEX_NAME)
                    if export is None and self.fs.isfile(sibling):
                        export = _read_index(self.fs, sibling)[1]
                if index is not None:
                    listed, info = _read_index(self.fs, index)
                    shards += listed
                    export = export if info is None else info
            self._shards, self._export = shards, export
        return self._shards, self._export

    def default_prefix(self) -> str:
        return "" if self._resolved()[1] is not None else super().default_prefix()

    def plan(self) -> list[Unit]:
        shards, export = self._resolved()
        units = []
        for p in shards:
            f = self.list_file(p)
            keys: list[str] = []
            try:
                for m, _ in _members(self.fs, p):
                    check_member(self.relative(p), m.name)
                    if m.isfile():
                        k, _ = sample_key(m.name)
                        if not keys or keys[-1] != k:
                            keys.append(k)
            except tarfile.TarError as e:
                raise BadInputError(f"{self.relative(p)} is not a readable tar ({e})", "check the shard") from None
            units.append(Unit(p, len(keys), {"export": export is not None}, (f,)))
        return units

    def read(self, unit: Unit, wanted: Callable[[int], bool]) -> Iterator[Item | Skip]:
        f = unit.files[0]
        rel = self.relative(f.path)
        shard = rel[: -len(".tar")] if rel.endswith(".tar") else rel.rsplit(".", 1)[0]
        i, cur = -1, None
        members: dict = {}
        for m, tar in _members(self.fs, f.path):
            check_member(rel, m.name)
            if not m.isfile():
                continue
            k, ext = sample_key(m.name)
            if k != cur:
                if cur is not None and wanted(i):
                    yield from self._sample(rel, shard, i, cur, members, f, bool(unit.spec.get("export")))
                i, cur, members = i + 1, k, {}
            if not wanted(i):
                continue
            if m.issparse():
                stored = sum(size for _, size in m.sparse or ())
                yield Skip(f"{rel} member {m.name}", f"a sparse member (declares {m.size} bytes, holds {stored}): "
                                                     "its holes would be read and stored as zeros")
                continue
            members[ext] = tar.extractfile(m).read()
        if cur is not None and wanted(i):
            yield from self._sample(rel, shard, i, cur, members, f, bool(unit.spec.get("export")))

    def _sample(self, rel: str, shard: str, i: int, key: str, members: dict, f, export: bool = False) -> Iterator[Item | Skip]:
        where = f"{rel} sample {key}"
        doc = {}
        if "json" in members:
            try:
                doc = json.loads(members["json"])
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                yield Skip(where, f"{key}.json is not valid JSON ({e})")
                return
            if not isinstance(doc, dict):
                doc = {}
        if export:
            yield self._restored(rel, i, key, members, doc)
            return
        media = [(ext, extension_modality("x." + ext.rsplit(".", 1)[-1])) for ext in sorted(members) if ext not in ("json", *CAPTION_EXTS)]
        media = [(ext, mod) for ext, mod in media if mod not in (UNKNOWN, TEXT)]
        caption = next((members[e] for e in CAPTION_EXTS if e in members), None)
        if not media:
            if caption is None:
                yield Skip(where, f"no media or text member (has: {', '.join(sorted(members)) or 'nothing'})")
                return
            ext = next(e for e in CAPTION_EXTS if e in members)
            media, caption = [(ext, TEXT)], None
        for ext, mod in media:
            location = {"file": rel, "member": f"{key}.{ext}", "sample": i}
            meta = self.base_meta(location, f)
            for k in ("caption", "transcript", "license"):
                if isinstance(doc.get(k), str) and not (k == "license" and self.options.license):
                    meta[k] = doc[k]
            if caption is not None:
                try:
                    meta["transcript" if mod == AUDIO else "caption"] = caption.decode("utf-8").strip()
                except UnicodeDecodeError:
                    pass
            extra = scalar_extra(doc, self.options.meta_fields or None, skip=KNOWN)
            if extra:
                meta["extra"] = extra
            data = members[ext]
            yield Item(f"{shard}/{key}.{ext}", mod, meta, location, data=data, size=len(data))

    def _restored(self, rel: str, i: int, key: str, members: dict, doc: dict) -> Item | Skip:
        """The item an mmvc export's sample was made from, as it was in the version."""
        from mmvc.core.hashing import hash_bytes

        where = f"{rel} sample {key}"
        payload = [ext for ext in members if ext != "json" and not ext.endswith("npy")]
        if not isinstance(doc.get("key"), str) or not isinstance(doc.get("oid"), str) or len(payload) != 1:
            return Skip(where, "not a sample of an mmvc export (its .json names no key and oid, or it has no single payload)")
        data = members[payload[0]]
        if hash_bytes(data) != doc["oid"]:
            return Skip(where, f"its payload is not the object {doc['oid'][:12]} its .json names (a damaged export)")
        location = {"file": rel, "member": f"{key}.{payload[0]}", "sample": i}
        meta = {k: doc[k] for k in RESTORED if k in doc}  # the item's own, not this import's: a round trip changes nothing
        if self.options.license:
            meta["license"] = self.options.license
        if self.options.source:
            meta["source"] = self.options.source
        modality = doc.get("modality")
        return Item(doc["key"], BY_NAME.get(modality) if isinstance(modality, str) else None, meta, location, data=data,
                    size=len(data))


def is_shard_index(fs, path: str) -> bool:
    """Whether ``path`` is a wids shard index (an mmvc export's ``index.json`` is one)."""
    import json

    if posixpath.basename(path) != INDEX_NAME:
        return False
    try:
        with fs.open(path, "rb") as fh:
            doc = json.loads(fh.read(1 << 24))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(doc, dict) and doc.get("__kind__") == WIDS_KIND


def _read_index(fs, path: str) -> tuple[list[str], dict | None]:
    """(the shards a wids shard index lists, its ``mmvc`` object when an mmvc export wrote it)."""
    import json

    try:
        with fs.open(path, "rb") as fh:
            doc = json.loads(fh.read())
        if not isinstance(doc, dict) or doc.get("__kind__") != WIDS_KIND:
            raise ValueError(f"its __kind__ is not {WIDS_KIND}")
        base = posixpath.dirname(path)
        shards = [s["url"] if "://" in s["url"] or s["url"].startswith("/") else posixpath.join(base, s["url"])
                  for s in doc["shardlist"]]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise BadInputError(f"{path} is not a shard index ({e})", "point at the shards, their folder, or a wids/mmvc index.json") from None
    for s in shards:
        if "://" in s:
            raise BadInputError(f"{path} lists a shard by URL ({s})", "import those shards by URL directly")
        if not fs.isfile(s):
            raise BadInputError(f"{path} lists {s}, which does not exist", "the export is incomplete; export it again")
    info = doc.get("mmvc")
    return shards, info if isinstance(info, dict) else None
