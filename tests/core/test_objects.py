"""mmvc's objects: headers and canonical JSON pinned byte for byte, decode round trips, format-1
objects still read, and kinds known from the reference rather than guessed from the bytes."""

from __future__ import annotations

import pytest
from blake3 import blake3

from mmvc.core.manifest import Node, encode_node
from mmvc.core.objects import (
    BLOB,
    COMMIT,
    NODE,
    PROCESS_REPORT,
    PROCESS_RUN,
    RECIPE,
    TAG,
    Commit,
    Gate,
    Signature,
    Tag,
    canonical_json,
    canonical_meta,
    declared_kind,
    decode_run,
    encode_report,
    encode_run,
    kind_of,
    open_object,
    read_header,
    report_parquet,
)
from mmvc.errors import CorruptError, NewerFormatError

TREE = "ab" * 32
PARENT = "cd" * 32

SAMPLE = Commit(
    tree=TREE,
    parents=(PARENT,),
    author=Signature("Zoë Author", "zoe@example.com", 1700000000, 60),
    committer=Signature("Ci Bot", "ci@example.com", 1700000100, -300),
    message="coco+librispeech v1\n\nfirst line ü",
    gate=Gate("gated", report="ef" * 32, config="01" * 32),
)

COMMIT_BODY = (
    '{"author":{"email":"zoe@example.com","name":"Zoë Author","time":1700000000,"tz":60},'
    '"committer":{"email":"ci@example.com","name":"Ci Bot","time":1700000100,"tz":-300},'
    '"gate":{"config":"' + "01" * 32 + '","mode":"gated","report":"' + "ef" * 32 + '"},'
    '"message":"coco+librispeech v1\\n\\nfirst line ü",'
    '"parents":["' + PARENT + '"],'
    '"tree":"' + TREE + '"}'
).encode("utf-8")
COMMIT_BYTES = b"mmvc commit 2\n" + COMMIT_BODY
COMMIT_ID = "371b5b41136544b5b1b3af92287740c3b40ec142d21cbc6f9536c80893082563"

# The same commit as repository format 1 wrote it: bare JSON carrying "format" and "type".
COMMIT_V1_BYTES = COMMIT_BODY[:-1].replace(b',"gate":', b',"format":1,"gate":') + b',"type":"commit"}'
COMMIT_V1_ID = "60bd5febbcebea2039322c4e000d1cc6def2630ad1d506bddbd95c7aa248a44e"

TAG_OBJ = Tag(PARENT, "v1", SAMPLE.author, "release\n")
TAG_BYTES = (b'mmvc tag 2\n{"message":"release\\n","name":"v1","object":"' + PARENT.encode()
             + '","tagger":{"email":"zoe@example.com","name":"Zoë Author","time":1700000000,"tz":60}}'.encode())
TAG_ID = "a734104db3bb6ce386ccce93b7dfc2088845b2b09a7d7ff0dbfc00ae64dadf16"


def test_commit_golden_bytes():
    data = SAMPLE.encode()
    assert data == COMMIT_BYTES  # header line, then sorted keys, no spaces, non-ASCII kept as UTF-8
    assert blake3(data).hexdigest() == COMMIT_ID


def test_a_format_1_commit_still_decodes_to_the_same_commit():
    assert blake3(COMMIT_V1_BYTES).hexdigest() == COMMIT_V1_ID  # the bytes format 1 wrote, pinned
    assert Commit.decode(COMMIT_V1_BYTES, "x") == SAMPLE
    assert open_object(COMMIT_V1_BYTES, "x", (COMMIT,))[:2] == (COMMIT, 1)


def test_root_commit_and_ungated_gate_encode_nulls_and_empty_parents():
    c = Commit(TREE, (), SAMPLE.author, SAMPLE.author, "init", Gate("ungated"))
    data = c.encode()
    assert b'"parents":[]' in data
    assert b'"gate":{"config":null,"mode":"ungated","report":null}' in data
    assert Commit.decode(data) == c


def test_decode_round_trip_keeps_extra_fields():
    c = Commit(TREE, (PARENT, "ee" * 32), SAMPLE.author, SAMPLE.committer, "merge", SAMPLE.gate,
               extra={"aa_first": 1, "zz_note": {"b": 1, "a": [1, 2]}})
    data = c.encode()
    back = Commit.decode(data, "x")
    assert back == c
    assert back.encode() == data
    assert data.startswith(b'mmvc commit 2\n{"aa_first":1,"author":') and data.endswith(b'"zz_note":{"a":[1,2],"b":1}}')


def test_decode_round_trip_of_the_golden_commit():
    assert Commit.decode(COMMIT_BYTES) == SAMPLE


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"{}",
        b'{"type":"blob"}',
        b'{"type":"commit","tree":"x"}',  # format 1, fields missing
        b"mmvc commit 2\n[]",
        b"mmvc commit 2\n{}",
        b"mmvc tag 2\n" + COMMIT_BODY,  # a tag's header where a commit is expected
        COMMIT_BYTES.replace(b'"name":"Ci Bot",', b""),  # a signature without a name
        encode_node(Node(0, [])),
    ],
)
def test_invalid_commits_are_corrupt(data):
    with pytest.raises(CorruptError):
        Commit.decode(data, "x")


def test_a_commit_from_a_newer_format_is_refused():
    with pytest.raises(CorruptError, match="newer"):
        Commit.decode(COMMIT_BYTES.replace(b"mmvc commit 2", b"mmvc commit 3"), "x")
    with pytest.raises(CorruptError, match="newer"):
        Commit.decode(COMMIT_V1_BYTES.replace(b'"format":1', b'"format":2'), "x")


def test_tag_golden_bytes_and_format_1_tags():
    assert TAG_OBJ.encode() == TAG_BYTES and blake3(TAG_BYTES).hexdigest() == TAG_ID
    assert Tag.decode(TAG_BYTES, "x") == TAG_OBJ
    v1 = canonical_json({"format": 1, "message": "release\n", "name": "v1", "object": PARENT, "tagger": SAMPLE.author.to_json(), "type": "tag"})
    assert Tag.decode(v1, "x") == TAG_OBJ
    with pytest.raises(CorruptError):
        Tag.decode(COMMIT_BYTES, "x")


def test_process_run_and_report_objects():
    doc = {"config": "01" * 32, "config_doc": {}, "counts": {}, "items": 0, "report": "ef" * 32, "time": 1}
    data = encode_run(doc)
    assert data == b"mmvc process-run 2\n" + canonical_json(doc)
    assert decode_run(data, "x") == doc
    assert decode_run(canonical_json({**doc, "format": 1, "type": "process-run"}), "x") == doc  # format 1
    report = encode_report(b"PAR1...PAR1")
    assert report == b"mmvc process-report 2\nPAR1...PAR1"
    assert report_parquet(report, "x") == b"PAR1...PAR1"
    assert report_parquet(b"PAR1...PAR1", "x") == b"PAR1...PAR1"  # format 1: a bare Parquet file
    with pytest.raises(CorruptError):
        report_parquet(data, "x")


def test_headers():
    assert read_header(COMMIT_BYTES) == (COMMIT, 2, len(b"mmvc commit 2\n"))
    assert read_header(encode_node(Node(0, []))) == (NODE, 1, 0)
    assert read_header(b"mmvc commit\n{}") is None and read_header(b"mmvc commit 2 {}") is None
    assert read_header(b"\x89PNG\r\n\x1a\n") is None and read_header(b"") is None


def test_kind_comes_from_the_reference_and_the_header_picks_among_what_it_allows():
    node = encode_node(Node(0, []))
    tips = (COMMIT, TAG, RECIPE)
    assert kind_of(COMMIT_BYTES, tips) == COMMIT and kind_of(TAG_BYTES, tips) == TAG
    assert kind_of(COMMIT_V1_BYTES, tips) == COMMIT  # format 1: by its "type"
    assert kind_of(node, tips) is None and kind_of(b"hello", tips) is None
    assert kind_of(COMMIT_BYTES, (NODE,)) is None
    # where a reference allows a blob, user bytes are a blob, even JSON that looks like nothing else
    assert kind_of(b'{"author":"someone"}', (BLOB,)) == BLOB
    assert open_object(b"\x89PNG", "x", (BLOB,)) == (BLOB, 0, b"\x89PNG")


def test_declared_kind_describes_bytes_without_a_reference():
    assert declared_kind(COMMIT_BYTES) == COMMIT and declared_kind(COMMIT_V1_BYTES) == COMMIT
    assert declared_kind(encode_node(Node(0, []))) == NODE
    assert declared_kind(encode_report(b"PAR1")) == PROCESS_REPORT and declared_kind(encode_run({})) == PROCESS_RUN
    assert declared_kind(b"\x89PNG\r\n\x1a\n") == BLOB and declared_kind(b"") == BLOB
    assert declared_kind(b'{"author":"someone"}') == BLOB  # user JSON that claims no mmvc kind
    assert declared_kind(b"PAR1 a user's Parquet file PAR1") == BLOB  # only a report reference reads bare Parquet as a report


def test_a_tag_from_a_newer_format_is_refused():
    tag = Tag("ab" * 32, "v1", Signature("A", "a@example.com", 1700000000, 0), "first release\n")
    assert Tag.decode(tag.encode(), "x") == tag
    with pytest.raises(NewerFormatError, match="tag x has format 3"):
        Tag.decode(tag.encode().replace(b"mmvc tag 2", b"mmvc tag 3"), "x")


def test_canonical_json_and_meta():
    assert canonical_json({"b": 1, "a": {"d": "é", "c": [1.5, None]}}) == '{"a":{"c":[1.5,null],"d":"é"},"b":1}'.encode()
    assert canonical_meta(None) == canonical_meta({}) == ""
    assert canonical_meta({"w": 640, "h": 480}) == '{"h":480,"w":640}'
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})  # NaN is not JSON and would not round-trip
