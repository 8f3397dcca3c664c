"""mmvc's own objects: the header every one of them starts with, commits and tags, and the
canonical JSON they are written in (docs/format.md, "Objects", "Commits", "Tags").

Canonical form: UTF-8 JSON with sorted keys, no whitespace between tokens, non-ASCII kept as
is. The same commit therefore always has the same bytes and the same id; golden-byte tests pin
the encoding (tests/core/test_objects.py).

An object's kind is known from the reference that leads to it (a tree entry names a blob, a
branch a commit, a commit's ``gate.report`` a process report …), never guessed from its bytes:
readers pass the kinds their reference allows to ``open_object``, and the header says which of
them the object is. Blobs carry no header (an asset's id is the BLAKE3 of its raw bytes).
Objects of repository format 1 have no header; ``open_object`` reads them as "Reading format 1"
in docs/format.md says.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from typing import NamedTuple

from mmvc.errors import CorruptError, NewerFormatError

# Object kinds (append-only names).
BLOB = "blob"
NODE = "node"
COMMIT = "commit"
TAG = "tag"
RECIPE = "recipe"
PROCESS_RUN = "process-run"
PROCESS_REPORT = "process-report"
EVAL = "eval"
TRAINING_RUN = "training-run"
DEDUP_FEATURES = "dedup-features"

# The format this mmvc writes each headed kind in; a larger one is refused.
OBJECT_FORMATS = {COMMIT: 2, TAG: 2, RECIPE: 2, PROCESS_RUN: 2, PROCESS_REPORT: 2, EVAL: 2, TRAINING_RUN: 2, DEDUP_FEATURES: 1}
NODE_MAGIC = b"MMVN"
_HEADER = re.compile(rb"mmvc ([a-z][a-z-]*) ([0-9]{1,9})\n")
_HEADER_MAX = 64
_FORMAT1_JSON = (COMMIT, TAG, RECIPE, PROCESS_RUN)  # format 1 wrote these as bare JSON with a "type"


class Header(NamedTuple):
    kind: str
    format: int
    size: int  # bytes before the body (0 for a node, whose header is part of its own layout)


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def canonical_meta(meta: dict | None) -> str:
    """The string form item metadata takes in the index and manifests ("" for none)."""
    if not meta:
        return ""
    return canonical_json(meta).decode("utf-8")


def encode_object(kind: str, body: bytes) -> bytes:
    """``body`` behind the header of ``kind`` in the format this mmvc writes."""
    return b"mmvc %s %d\n" % (kind.encode("ascii"), OBJECT_FORMATS[kind]) + body


def read_header(data: bytes) -> Header | None:
    """The header an object starts with, or None (a blob, or a format-1 object)."""
    if data[:4] == NODE_MAGIC and len(data) >= 6:
        return Header(NODE, struct.unpack_from("<H", data, 4)[0], 0)
    if data[:5] != b"mmvc ":
        return None
    m = _HEADER.match(data[:_HEADER_MAX])
    return Header(m.group(1).decode("ascii"), int(m.group(2)), m.end()) if m else None


def _format1_json_kind(data: bytes) -> str | None:
    """The kind a headerless JSON object names in its "type", as format 1 wrote commits, tags,
    recipes and process runs."""
    if data[:1] != b"{":
        return None
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    kind = doc.get("type") if isinstance(doc, dict) else None
    return kind if kind in _FORMAT1_JSON else None


def kind_of(data: bytes, allowed: tuple[str, ...]) -> str | None:
    """Which of the kinds a reference allows the object is; None when it is none of them."""
    h = read_header(data)
    if h is not None:
        return h.kind if h.kind in allowed else None
    kind = PROCESS_REPORT if data[:4] == b"PAR1" else _format1_json_kind(data)  # format 1
    if kind in allowed:
        return kind
    return BLOB if BLOB in allowed else None


def open_object(data: bytes, oid: str, allowed: tuple[str, ...]) -> tuple[str, int, bytes]:
    """(kind, format, body) of an object reached through a reference that allows the kinds in
    ``allowed``. An object that is none of them, or of a newer format, is a CorruptError."""
    kind = kind_of(data, allowed)
    if kind is None:
        raise CorruptError(f"object {oid} is not a {' or '.join(allowed)}", "run `mmvc fsck`")
    if kind == BLOB:
        return kind, 0, data
    h = read_header(data)
    if h is None:  # format 1
        return kind, 1, data
    if kind != NODE and h.format > OBJECT_FORMATS[kind]:
        raise NewerFormatError(f"{kind} {oid}", h.format, OBJECT_FORMATS[kind])
    return kind, h.format, data[h.size:]


def declared_kind(data: bytes) -> str:
    """The kind an object's bytes declare, for a reader with no reference to go by (``mmvc
    cat-object``): the header's kind, a format-1 object's JSON "type", else blob (a format-1
    report, bare Parquet, is as likely to be a user's Parquet file)."""
    h = read_header(data)
    if h is not None:
        return h.kind
    return _format1_json_kind(data) or BLOB


def open_json(data: bytes, oid: str, kind: str) -> tuple[dict, int]:
    """The JSON body of an object of ``kind`` and its format; a format-1 body loses the "type"
    and "format" keys its header now carries."""
    _, fmt, body = open_object(data, oid, (kind,))
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise CorruptError(f"object {oid} is not a valid {kind} ({e})", "run `mmvc fsck`") from None
    if not isinstance(doc, dict):
        raise CorruptError(f"object {oid} is not a valid {kind} (not a JSON object)", "run `mmvc fsck`")
    if fmt == 1:
        stated = doc.pop("format", 1)
        if not isinstance(stated, int) or stated > 1:
            raise NewerFormatError(f"{kind} {oid} (without a header)", stated, 1)
        doc.pop("type", None)
    return doc, fmt


def recipe_commit(data: bytes, oid: str = "?") -> str:
    """The version a recipe object selects from: all that history walks need of a recipe (its
    codec is export's, `mmvc.export.recipe.Recipe`)."""
    commit = open_json(data, oid, RECIPE)[0].get("commit")
    if not isinstance(commit, str):
        raise CorruptError(f"recipe {oid} names no commit", "run `mmvc fsck`")
    return commit


def encode_run(doc: dict) -> bytes:
    """A process-run object (docs/format.md, "Process runs and reports")."""
    return encode_object(PROCESS_RUN, canonical_json(doc))


def decode_run(data: bytes, oid: str = "?") -> dict:
    return open_json(data, oid, PROCESS_RUN)[0]


def encode_report(parquet: bytes) -> bytes:
    """A process-report object: the failure dataset, a Parquet file behind the header."""
    return encode_object(PROCESS_REPORT, parquet)


def report_parquet(data: bytes, oid: str = "?") -> bytes:
    """The Parquet file inside a process-report object (format 1: the object itself)."""
    return open_object(data, oid, (PROCESS_REPORT,))[2]


def encode_dedup_features(parquet: bytes) -> bytes:
    """A dedup-features object: the dedup features of the items one commit admitted."""
    return encode_object(DEDUP_FEATURES, parquet)


def dedup_features_parquet(data: bytes, oid: str = "?") -> bytes:
    return open_object(data, oid, (DEDUP_FEATURES,))[2]


@dataclass(frozen=True)
class Signature:
    name: str
    email: str
    time: int  # seconds since the epoch
    tz: int  # offset from UTC in minutes

    def to_json(self) -> dict:
        return {"email": self.email, "name": self.name, "time": self.time, "tz": self.tz}

    @property
    def who(self) -> str:
        return f"{self.name} <{self.email}>"


@dataclass(frozen=True)
class Gate:
    """How the commit's items crossed the trust boundary."""

    mode: str  # "gated" | "ungated"
    report: str | None = None  # id of the process report object
    config: str | None = None  # hash of the process config the items passed under
    dedup: str | None = None  # id of the dedup-features object of the admitted items (absent: none written)

    def to_json(self) -> dict:
        doc = {"config": self.config, "mode": self.mode, "report": self.report}
        if self.dedup:
            doc["dedup"] = self.dedup
        return doc


_COMMIT_KEYS = {"author", "committer", "gate", "message", "parents", "tree"}


@dataclass(frozen=True)
class Commit:
    tree: str
    parents: tuple[str, ...]
    author: Signature
    committer: Signature
    message: str
    gate: Gate
    extra: dict = field(default_factory=dict)

    def encode(self) -> bytes:
        doc = {
            "author": self.author.to_json(),
            "committer": self.committer.to_json(),
            "gate": self.gate.to_json(),
            "message": self.message,
            "parents": list(self.parents),
            "tree": self.tree,
        }
        doc.update(self.extra)
        return encode_object(COMMIT, canonical_json(doc))

    @classmethod
    def decode(cls, data: bytes, oid: str = "?") -> Commit:
        doc, _ = open_json(data, oid, COMMIT)
        try:
            return cls(
                tree=doc["tree"],
                parents=tuple(doc["parents"]),
                author=Signature(**doc["author"]),
                committer=Signature(**doc["committer"]),
                message=doc["message"],
                gate=Gate(**doc["gate"]),
                extra={k: v for k, v in doc.items() if k not in _COMMIT_KEYS},
            )
        except (ValueError, KeyError, TypeError) as e:
            raise CorruptError(f"object {oid} is not a valid commit ({e})", "run `mmvc fsck`") from None


@dataclass(frozen=True)
class Tag:
    """An annotated tag: a named, signed-off pointer with a message (a lightweight tag is a ref)."""

    object: str
    name: str
    tagger: Signature
    message: str

    def encode(self) -> bytes:
        return encode_object(TAG, canonical_json({"message": self.message, "name": self.name, "object": self.object,
                                                  "tagger": self.tagger.to_json()}))

    @classmethod
    def decode(cls, data: bytes, oid: str = "?") -> Tag:
        doc, _ = open_json(data, oid, TAG)
        try:
            return cls(doc["object"], doc["name"], Signature(**doc["tagger"]), doc["message"])
        except (ValueError, KeyError, TypeError) as e:
            raise CorruptError(f"object {oid} is not a valid tag ({e})", "run `mmvc fsck`") from None
