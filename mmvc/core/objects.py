"""Commit objects and the canonical JSON they are written in.

Canonical form: UTF-8 JSON with sorted keys, no whitespace between tokens, non-ASCII kept as
is. The same commit therefore always has the same bytes and the same id; golden-byte tests pin
the encoding (tests/core/test_objects.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from mmvc.errors import CorruptError, NewerFormatError

COMMIT_FORMAT = 1


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def canonical_meta(meta: dict | None) -> str:
    """The string form item metadata takes in the index and manifests ("" for none)."""
    if not meta:
        return ""
    return canonical_json(meta).decode("utf-8")


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

    def to_json(self) -> dict:
        return {"config": self.config, "mode": self.mode, "report": self.report}


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
            "format": COMMIT_FORMAT,
            "gate": self.gate.to_json(),
            "message": self.message,
            "parents": list(self.parents),
            "tree": self.tree,
            "type": "commit",
        }
        doc.update(self.extra)
        return canonical_json(doc)

    @classmethod
    def decode(cls, data: bytes, oid: str = "?") -> Commit:
        try:
            doc = json.loads(data)
            if doc.get("type") != "commit":
                raise ValueError("not a commit")
            if doc.get("format", 0) > COMMIT_FORMAT:
                raise NewerFormatError(f"commit {oid}", doc["format"], COMMIT_FORMAT)
            known = {"author", "committer", "format", "gate", "message", "parents", "tree", "type"}
            return cls(
                tree=doc["tree"],
                parents=tuple(doc["parents"]),
                author=Signature(**doc["author"]),
                committer=Signature(**doc["committer"]),
                message=doc["message"],
                gate=Gate(**doc["gate"]),
                extra={k: v for k, v in doc.items() if k not in known},
            )
        except (ValueError, KeyError, TypeError) as e:
            raise CorruptError(f"object {oid} is not a valid commit ({e})", "run `mmvc fsck`") from None


def object_kind(data: bytes) -> str:
    """What a stored object is: 'commit', 'node', 'tag', 'recipe', 'eval', 'training-run', or 'blob' (user content)."""
    if data[:4] == b"MMVN":
        return "node"
    if data.startswith(b'{"author":') and data.endswith((b'"type":"eval"}', b'"type":"training-run"}')):
        return "eval" if data.endswith(b'"eval"}') else "training-run"  # mmvc.core.evals, mmvc.core.training_runs
    if data.startswith(b'{"author":') and b'"type":"commit"' in data:
        return "commit"
    if data.startswith(b'{"format":') and data.endswith(b'"type":"tag"}'):
        return "tag"
    if data.startswith(b'{"commit":') and data.endswith(b'"type":"recipe"}'):
        return "recipe"  # mmvc.export.recipe; names the commit it selects from
    return "blob"


TAG_FORMAT = 1


@dataclass(frozen=True)
class Tag:
    """An annotated tag: a named, signed-off pointer with a message (a lightweight tag is a ref)."""

    object: str
    name: str
    tagger: Signature
    message: str

    def encode(self) -> bytes:
        return canonical_json({"format": TAG_FORMAT, "message": self.message, "name": self.name, "object": self.object,
                               "tagger": self.tagger.to_json(), "type": "tag"})

    @classmethod
    def decode(cls, data: bytes, oid: str = "?") -> Tag:
        try:
            doc = json.loads(data)
            if doc.get("type") != "tag":
                raise ValueError("not a tag")
            if doc.get("format", 0) > TAG_FORMAT:
                raise NewerFormatError(f"tag {oid}", doc["format"], TAG_FORMAT)
            return cls(doc["object"], doc["name"], Signature(**doc["tagger"]), doc["message"])
        except (ValueError, KeyError, TypeError) as e:
            raise CorruptError(f"object {oid} is not a valid tag ({e})", "run `mmvc fsck`") from None
