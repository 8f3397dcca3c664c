"""The export index: the one file that says an export is complete (docs/format.md, "Export index").

It has the shape of a ``wids`` shard index (``__kind__``, ``wids_version``, ``shardlist`` of
``{url, nsamples}``, urls relative to the index) so wids-style readers can use it as it is, plus
each shard's byte size and BLAKE3, and an ``mmvc`` object saying what was exported. It carries
no time or host, so the same export always has the same index bytes; its BLAKE3 is the export's
identity (``export_id``), which a loader's state dict is tied to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from mmvc.errors import BadInputError, CorruptError, NewerFormatError

EXPORT_FORMAT = 1
INDEX_NAME = "index.json"
PLAN_NAME = ".mmvc-export.json"  # present while an export is unfinished; what --resume reads
WIDS_KIND = "wids-shard-index-v1"


@dataclass(frozen=True)
class ShardInfo:
    url: str  # relative to the index
    nsamples: int
    filesize: int
    blake3: str = ""

    def to_json(self) -> dict:
        d = {"filesize": self.filesize, "nsamples": self.nsamples, "url": self.url}
        if self.blake3:
            d["blake3"] = self.blake3
        return d


@dataclass
class ExportIndex:
    shards: list
    info: dict  # the "mmvc" object
    export_id: str = ""
    location: str = ""  # where it was read from
    raw: bytes = field(default=b"", repr=False)

    @property
    def samples(self) -> int:
        return sum(s.nsamples for s in self.shards)

    @property
    def nbytes(self) -> int:
        return sum(s.filesize for s in self.shards)


def encode_index(shards: list, info: dict) -> bytes:
    from mmvc.core.objects import canonical_json

    doc = {"__kind__": WIDS_KIND, "wids_version": 1, "name": info.get("name", "mmvc export"),
           "shardlist": [s.to_json() for s in shards], "mmvc": {**info, "format": EXPORT_FORMAT}}
    return canonical_json(doc) + b"\n"


def decode_index(data: bytes, where: str) -> ExportIndex:
    from mmvc.core.hashing import hash_bytes

    try:
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("__kind__") != WIDS_KIND or not isinstance(doc.get("mmvc"), dict):
            raise ValueError("not an mmvc export index")
        info = doc["mmvc"]
        if info.get("format", 0) > EXPORT_FORMAT:
            raise NewerFormatError(f"export index {where}", info["format"], EXPORT_FORMAT)
        shards = [ShardInfo(s["url"], int(s["nsamples"]), int(s["filesize"]), s.get("blake3", "")) for s in doc["shardlist"]]
    except (ValueError, KeyError, TypeError) as e:
        raise CorruptError(f"{where} is not a valid export index ({e})", "export again, or point at the folder an export wrote") from None
    return ExportIndex(shards, info, hash_bytes(data), where, data)


def read_index(target) -> ExportIndex:
    """The index of a finished export at ``target`` (an ExportTarget)."""
    data = target.read(INDEX_NAME)
    if data is None:
        unfinished = target.read(PLAN_NAME) is not None
        raise BadInputError(f"{target.spec} holds no finished export (no {INDEX_NAME})",
                            "the export was interrupted: run the same `mmvc export` with --resume" if unfinished
                            else "export a version there first with `mmvc export --webdataset TARGET`")
    return decode_index(data, target.url(INDEX_NAME))
