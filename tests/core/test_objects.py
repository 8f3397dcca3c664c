"""Commit objects: canonical JSON pinned byte for byte, decode round trips, object kinds."""

from __future__ import annotations

import pytest
from blake3 import blake3

from mmvc.core.manifest import Node, encode_node
from mmvc.core.objects import Commit, Gate, Signature, Tag, canonical_json, canonical_meta, object_kind
from mmvc.errors import CorruptError, NewerFormatError

TREE = "ab" * 32
PARENT = "cd" * 32

COMMIT = Commit(
    tree=TREE,
    parents=(PARENT,),
    author=Signature("Zoë Author", "zoe@example.com", 1700000000, 60),
    committer=Signature("Ci Bot", "ci@example.com", 1700000100, -300),
    message="coco+librispeech v1\n\nfirst line ü",
    gate=Gate("gated", report="ef" * 32, config="01" * 32),
)

COMMIT_BYTES = (
    '{"author":{"email":"zoe@example.com","name":"Zoë Author","time":1700000000,"tz":60},'
    '"committer":{"email":"ci@example.com","name":"Ci Bot","time":1700000100,"tz":-300},'
    '"format":1,'
    '"gate":{"config":"' + "01" * 32 + '","mode":"gated","report":"' + "ef" * 32 + '"},'
    '"message":"coco+librispeech v1\\n\\nfirst line ü",'
    '"parents":["' + PARENT + '"],'
    '"tree":"' + TREE + '",'
    '"type":"commit"}'
).encode("utf-8")
COMMIT_ID = "60bd5febbcebea2039322c4e000d1cc6def2630ad1d506bddbd95c7aa248a44e"


def test_commit_golden_bytes():
    data = COMMIT.encode()
    assert data == COMMIT_BYTES  # sorted keys, no spaces, non-ASCII kept as UTF-8
    assert blake3(data).hexdigest() == COMMIT_ID


def test_root_commit_and_ungated_gate_encode_nulls_and_empty_parents():
    c = Commit(TREE, (), COMMIT.author, COMMIT.author, "init", Gate("ungated"))
    data = c.encode()
    assert b'"parents":[]' in data
    assert b'"gate":{"config":null,"mode":"ungated","report":null}' in data
    assert Commit.decode(data) == c


def test_decode_round_trip_keeps_extra_fields():
    c = Commit(TREE, (PARENT, "ee" * 32), COMMIT.author, COMMIT.committer, "merge", COMMIT.gate, extra={"zz_note": {"b": 1, "a": [1, 2]}})
    data = c.encode()
    back = Commit.decode(data, "x")
    assert back == c
    assert back.encode() == data
    assert data.endswith(b'"type":"commit","zz_note":{"a":[1,2],"b":1}}')


def test_decode_round_trip_of_the_golden_commit():
    assert Commit.decode(COMMIT_BYTES) == COMMIT


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"{}",
        b'{"type":"blob"}',
        b'{"type":"commit","tree":"x"}',  # fields missing
        COMMIT_BYTES.replace(b'"name":"Ci Bot",', b""),  # a signature without a name
    ],
)
def test_invalid_commits_are_corrupt(data):
    with pytest.raises(CorruptError):
        Commit.decode(data, "x")


def test_a_commit_from_a_newer_format_is_refused():
    with pytest.raises(NewerFormatError, match="newer"):
        Commit.decode(COMMIT_BYTES.replace(b'"format":1', b'"format":2'), "x")


def test_a_tag_from_a_newer_format_is_refused():
    tag = Tag("ab" * 32, "v1", Signature("A", "a@example.com", 1700000000, 0), "first release\n")
    assert Tag.decode(tag.encode(), "x") == tag
    with pytest.raises(NewerFormatError, match="tag x has format 2"):
        Tag.decode(tag.encode().replace(b'"format":1', b'"format":2'), "x")


def test_canonical_json_and_meta():
    assert canonical_json({"b": 1, "a": {"d": "é", "c": [1.5, None]}}) == '{"a":{"c":[1.5,null],"d":"é"},"b":1}'.encode()
    assert canonical_meta(None) == canonical_meta({}) == ""
    assert canonical_meta({"w": 640, "h": 480}) == '{"h":480,"w":640}'
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})  # NaN is not JSON and would not round-trip


def test_object_kind():
    assert object_kind(COMMIT.encode()) == "commit"
    assert object_kind(encode_node(Node(0, []))) == "node"
    assert object_kind(b"\x89PNG\r\n\x1a\n") == "blob"
    assert object_kind(b"") == "blob"
    assert object_kind(b'{"author":"someone"}') == "blob"  # user JSON that is not a commit
