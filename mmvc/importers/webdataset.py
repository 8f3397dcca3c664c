"""WebDataset tar shards: consecutive members sharing a key (``dir/0001.jpg``, ``dir/0001.txt``,
``dir/0001.json``) form a sample. A sample's media member becomes the item; its ``.txt`` is
the caption (the transcript for audio) and its ``.json`` fields its metadata. A sample with no
media is a text item. Keys are ``<shard path without .tar>/<sample key>.<ext>``.

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

from mmvc.core.modality import AUDIO, TEXT, UNKNOWN, extension_modality
from mmvc.errors import BadInputError
from mmvc.importers.base import Connector, Item, Skip, Unit, scalar_extra
from mmvc.importers.folder import KNOWN

CAPTION_EXTS = ("txt", "caption", "cap", "text")


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

    def plan(self) -> list[Unit]:
        units = []
        for p in self.paths:
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
            units.append(Unit(p, len(keys), {}, (f,)))
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
                    yield from self._sample(rel, shard, i, cur, members, f)
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
            yield from self._sample(rel, shard, i, cur, members, f)

    def _sample(self, rel: str, shard: str, i: int, key: str, members: dict, f) -> Iterator[Item | Skip]:
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
