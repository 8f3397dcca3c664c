"""state_dict / load_state_dict: an interrupted and resumed run sees exactly the samples of an
uninterrupted one, also when the world size and the number of workers change."""

from __future__ import annotations

import os

import pytest

from mmvc.errors import BadInputError
from mmvc.loader import DataLoader, MMVCDataset


def by_position(samples) -> list[str]:
    return [s for _, s in sorted(samples)]


def run_ranks(out, world, batch, workers, state=None, steps=None, seed=11):
    """Every rank's batches (up to ``steps`` per rank); returns (position, key) pairs and the
    state dicts the ranks would checkpoint."""
    got, states = [], []
    for r in range(world):
        ds = MMVCDataset(out, seed=seed, rank=r, world_size=world, allow_ungated=True)
        if state is not None:
            ds.load_state_dict(state)
        loader = DataLoader(ds, batch_size=batch, num_workers=workers)
        for t, b in enumerate(loader):
            got += list(zip(b["__index__"].tolist(), b["key"]))
            if steps is not None and t + 1 == steps:
                break  # a checkpoint after `steps` training steps
        states.append(ds.state_dict())
    return got, states


def test_resume_in_process_is_exact(exported):
    _, out = exported
    full = [s["key"] for s in MMVCDataset(out, seed=9, allow_ungated=True)]
    ds = MMVCDataset(out, seed=9, allow_ungated=True)
    it = iter(ds)
    head = [next(it)["key"] for _ in range(13)]
    state = ds.state_dict()
    assert (state["epoch"], state["consumed"]) == (0, 13)
    again = MMVCDataset(out, seed=9, allow_ungated=True)
    again.load_state_dict(state)
    assert head + [s["key"] for s in again] == full
    # the end of an epoch is the start of the next
    assert (again.state_dict()["epoch"], again.state_dict()["consumed"]) == (1, 0)


@pytest.mark.parametrize("before,after", [((2, 4, 2), (4, 2, 0)), ((1, 8, 0), (2, 4, 2)), ((4, 2, 2), (1, 8, 2))])
def test_resume_across_world_size_and_workers(exported, before, after):
    _, out = exported
    full, _ = run_ranks(out, 1, 8, 0)
    assert sorted(p for p, _ in full) == list(range(50))
    w0, b0, k0 = before
    head, states = run_ranks(out, w0, b0, k0, steps=3)
    assert all(s == states[0] for s in states)  # ranks in lockstep checkpoint the same state
    assert states[0]["consumed"] == 3 * w0 * b0 == len(head)
    w1, b1, k1 = after
    tail, _ = run_ranks(out, w1, b1, k1, state=states[0])
    assert sorted(p for p, _ in head + tail) == list(range(50))  # no duplicates, no gaps
    assert by_position(head + tail) == by_position(full)  # the same samples at the same positions


def test_a_state_dict_from_another_export_or_order_is_refused(exported, tmp_path):
    repo, out = exported
    from mmvc.ops.export import export

    other = str(tmp_path / "other")
    export(repo, other, seed=8, shard_items=8, allow_ungated=True)
    ds = MMVCDataset(out, seed=1, allow_ungated=True)
    state = ds.state_dict(delivered=5)
    with pytest.raises(BadInputError, match="another export"):
        MMVCDataset(other, seed=1, allow_ungated=True).load_state_dict(state)
    with pytest.raises(BadInputError, match="seed"):
        MMVCDataset(out, seed=2, allow_ungated=True).load_state_dict(state)
    with pytest.raises(BadInputError, match="another"):
        MMVCDataset(repo=repo, rev="main", seed=1, allow_ungated=True).load_state_dict(state)
    with pytest.raises(BadInputError):
        MMVCDataset(out, seed=1, allow_ungated=True).load_state_dict({"epoch": 0})


def test_resume_reads_only_the_shards_it_still_needs(exported):
    _, out = exported
    full = [s["key"] for s in MMVCDataset(out, seed=3, allow_ungated=True)]
    ds = MMVCDataset(out, seed=3, allow_ungated=True)
    state = ds.state_dict(delivered=45)
    from mmvc.loader.order import EpochOrder

    order = EpochOrder(ds.source.counts, 3, 0, True, 1)
    needed = {s for b in range(order.block_of(45), len(order.blocks)) for s in order.blocks[b]}
    for j, sh in enumerate(ds.source.index.shards):
        if j not in needed:
            os.unlink(os.path.join(out, sh.url))  # the skipped samples' shards are gone
    again = MMVCDataset(out, seed=3, allow_ungated=True)
    again.load_state_dict(state)
    assert [s["key"] for s in again] == full[45:]


def test_store_source_resumes_too(exported):
    repo, _ = exported
    full = [s["key"] for s in MMVCDataset(repo=repo, rev="main", seed=2, allow_ungated=True, store_shard_items=8)]
    ds = MMVCDataset(repo=repo, rev="main", seed=2, allow_ungated=True, store_shard_items=8)
    it = iter(ds)
    head = [next(it)["key"] for _ in range(20)]
    again = MMVCDataset(repo=repo, rev="main", seed=2, allow_ungated=True, store_shard_items=8)
    again.load_state_dict(ds.state_dict())
    assert head + [s["key"] for s in again] == full
