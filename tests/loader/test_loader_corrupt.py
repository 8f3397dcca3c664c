"""A damaged shard is named (shard and sample) or, with skip_corrupt=True, skipped and counted."""

from __future__ import annotations

import json
import os

import pytest

from mmvc.errors import CorruptError
from mmvc.loader import MMVCDataset


def member_offset(path: str, sample: int, ext: str) -> int:
    import tarfile

    with tarfile.open(path) as t:
        for m in t.getmembers():
            if m.name == f"{sample:09d}.{ext}" or (m.name.startswith(f"{sample:09d}.") and ext == "*" and not m.name.endswith(".json")):
                return m.offset_data
    raise AssertionError("no such member")


def test_flipped_payload_byte_names_shard_and_sample(exported):
    _, out = exported
    shard = os.path.join(out, "shard-000001.tar")
    off = member_offset(shard, 10, "*")
    with open(shard, "r+b") as f:
        f.seek(off + 3)
        b = f.read(1)
        f.seek(off + 3)
        f.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(CorruptError, match=r"shard-000001\.tar is corrupt: sample 2 \(key 000000010\)"):
        list(MMVCDataset(out, seed=1, allow_ungated=True))
    with pytest.warns(RuntimeWarning, match="skipping 1 corrupt"):
        ds = MMVCDataset(out, seed=1, allow_ungated=True, skip_corrupt=True)
        got = list(ds)
    assert len(got) == 49 and ds.skipped == 1 and 10 not in {s["meta"]["sample"] for s in got}


def test_truncated_shard_is_named(exported):
    _, out = exported
    shard = os.path.join(out, "shard-000002.tar")
    off = member_offset(shard, 20, "json")
    with open(shard, "r+b") as f:
        f.truncate(off + 5)  # cut inside sample 20's .json
    with pytest.raises(CorruptError, match=r"shard-000002\.tar is corrupt: sample 4 \(key 000000020\)"):
        list(MMVCDataset(out, allow_ungated=True))
    with pytest.warns(RuntimeWarning):
        ds = MMVCDataset(out, allow_ungated=True, skip_corrupt=True)
        got = list(ds)
    assert ds.skipped == 4 and {s["meta"]["sample"] for s in got} == set(range(50)) - {20, 21, 22, 23}


def test_missing_shard_is_named(exported):
    _, out = exported
    os.unlink(os.path.join(out, "shard-000003.tar"))
    with pytest.raises(CorruptError, match=r"shard .*shard-000003\.tar is missing"):
        list(MMVCDataset(out, allow_ungated=True))


def test_checksum_is_checked_even_when_the_samples_parse(exported):
    """A damaged byte inside tar padding changes no sample, but the shard's BLAKE3 catches it."""
    _, out = exported
    idx = json.load(open(os.path.join(out, "index.json")))
    shard = os.path.join(out, idx["shardlist"][0]["url"])
    with open(shard, "r+b") as f:
        f.seek(idx["shardlist"][0]["filesize"] - 10)
        f.write(b"\x01")
    with pytest.raises(CorruptError, match="shard-000000.tar is corrupt"):
        list(MMVCDataset(out, allow_ungated=True))
    assert len(list(MMVCDataset(out, allow_ungated=True, verify=False))) == 50
