"""How workers hand batches over: large payloads through shared-memory slots, and each shard
checked by one worker for all of them."""

from __future__ import annotations

import os
import pickle
import threading
from multiprocessing.reduction import ForkingPickler

import pytest
import torch.utils.data as tud

from mmvc.errors import CorruptError
from mmvc.loader import DataLoader, MMVCDataset
from mmvc.loader.handover import PACK_MIN, ReceivedPayloads, Slots, pack
from mmvc.loader.workers import CHECKING, GOOD, UNKNOWN, SharedChecks

needs_memfd = pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="no memfd on this system")


def send(obj):
    """What the training process receives when a worker queues ``obj``."""
    return pickle.loads(ForkingPickler.dumps(obj))


@needs_memfd
def test_packed_payloads_arrive_unchanged_while_slots_are_reused_and_grow():
    slots = Slots(2)
    batches = [[os.urandom(n) for n in sizes] for sizes in ([10, 0, 300], [5], [4000, 7, 1], [9])]
    for values in batches:  # the third batch outgrows slot 0 and reuses its turn
        assert send(slots.pack(values)).unpack() == values


@needs_memfd
def test_only_large_batches_are_packed():
    assert pack([b"x" * 100] * 10, 3) is None
    big = [os.urandom(PACK_MIN // 4 + 1) for _ in range(4)]
    assert send(pack(big, 3)).unpack() == big
    assert pack(big, 0) is None  # out-of-order loading packs nothing


@needs_memfd
def test_workers_hand_large_batches_over_through_shared_memory(big_shards):
    """60 samples of 20 KB a batch: more than PACK_MIN, so each batch's payloads travel packed."""
    _, out = big_shards
    expected = [(s["__index__"], s["data"]) for s in MMVCDataset(out, seed=4, allow_ungated=True)]
    loader = DataLoader(MMVCDataset(out, seed=4, allow_ungated=True), batch_size=60, num_workers=2)
    raw = list(tud.DataLoader.__iter__(loader))  # as torch hands them over, before unpacking
    assert raw and all(isinstance(b["data"], ReceivedPayloads) for b in raw)
    got = [(i, d) for b in loader for i, d in zip(b["__index__"].tolist(), b["data"])]
    assert got == expected and all(type(d) is bytes for _, d in got)


def test_a_shard_is_checked_by_one_worker_for_all():
    import multiprocessing

    checks = SharedChecks(2, multiprocessing.get_context())
    assert checks.claim(0) == CHECKING  # this one hashes shard 0
    verdicts = []
    waiter = threading.Thread(target=lambda: verdicts.append(checks.claim(0)))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive() and not verdicts  # the other waits for the verdict
    checks.settle(0, GOOD)
    waiter.join()
    assert verdicts == [GOOD] and checks.claim(0) == GOOD
    assert checks.claim(1) == CHECKING
    checks.settle(1, UNKNOWN)  # the check broke off: the next one to come checks it
    assert checks.claim(1) == CHECKING
    assert pickle.loads(pickle.dumps(checks)) is None  # shared with starting workers only


def test_workers_share_their_shard_checks(big_shards):
    _, out = big_shards
    ds = MMVCDataset(out, seed=2, allow_ungated=True)
    n = sum(len(b["key"]) for b in DataLoader(ds, batch_size=16, num_workers=2))
    assert n == 120 and list(ds.source.checks.states) == [GOOD] * 3
    assert len(list(ds)) == 120 and ds.source._verified == {0, 1, 2}  # taken from the workers' verdicts


def test_a_corrupt_shard_fails_every_worker_that_reads_it(big_shards):
    _, out = big_shards
    path = os.path.join(out, "shard-000001.tar")
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(CorruptError, match=r"shard-000001\.tar is corrupt"):
        for _ in DataLoader(MMVCDataset(out, seed=2, allow_ungated=True), batch_size=16, num_workers=2):
            pass
