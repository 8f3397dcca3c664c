"""MMVCDataset: the order is a pure function of (seed, epoch, export), split over ranks and
DataLoader workers with no duplicates and no gaps."""

from __future__ import annotations

import os

import pytest

from mmvc.errors import BadInputError, GateError
from mmvc.loader import DataLoader, MMVCDataset


def keys(ds) -> list[str]:
    return [s["key"] for s in ds]


def test_one_epoch_is_every_sample_once_in_a_seeded_order(exported):
    repo, out = exported
    ds = MMVCDataset(out, seed=1, allow_ungated=True)
    e0 = list(ds)
    assert [s["__index__"] for s in e0] == list(range(50)) and ds.epoch == 1
    assert sorted(s["meta"]["sample"] for s in e0) == list(range(50))
    e1 = keys(ds)  # the next epoch, reshuffled
    assert e1 != [s["key"] for s in e0] and sorted(e1) == sorted(s["key"] for s in e0)
    assert keys(MMVCDataset(out, seed=1, allow_ungated=True)) == [s["key"] for s in e0]
    assert keys(MMVCDataset(out, seed=2, allow_ungated=True)) != [s["key"] for s in e0]
    plain = list(MMVCDataset(out, shuffle=False, allow_ungated=True))
    assert [s["meta"]["sample"] for s in plain] == list(range(50))  # the export's own order
    s = e0[0]
    assert s["modality"] in ("image", "text") and isinstance(s["data"], bytes) and s["meta"]["oid"]
    assert s["__shard__"].endswith(".tar")


def test_block_shuffle_moves_samples_only_within_their_block(exported):
    _, out = exported
    ds = MMVCDataset(out, seed=3, shuffle_block=2, allow_ungated=True)
    from mmvc.loader.order import EpochOrder

    order = EpochOrder(ds.source.counts, 3, 0, True, 2)
    seq = list(ds)
    for s in seq:
        b = order.block_of(s["__index__"])
        shard = int(s["__shard__"].rsplit("-", 1)[1][:6])
        assert shard in order.blocks[b]


@pytest.mark.parametrize("world,batch,workers", [(1, 4, 1), (2, 3, 1), (3, 2, 2), (4, 5, 3)])
def test_ranks_and_workers_cover_the_epoch_exactly(exported, world, batch, workers):
    from mmvc.loader.order import positions, rank_count

    _, out = exported
    got = []
    for r in range(world):
        mine = []
        for w in range(workers):
            mine += list(positions(0, 50, r, world, w, workers, batch))
        assert len(mine) == rank_count(0, 50, r, world, batch)
        got += mine
    assert sorted(got) == list(range(50))
    # and the same through a real DataLoader with worker processes, rank by rank
    seen = []
    for r in range(world):
        ds = MMVCDataset(out, seed=4, rank=r, world_size=world, allow_ungated=True)
        for batch_ in DataLoader(ds, batch_size=batch, num_workers=workers if workers > 1 else 0):
            seen += batch_["__index__"].tolist()
        assert ds.epoch == 1  # the loader moved the dataset on to the next epoch
    assert sorted(seen) == list(range(50))


def test_dataloader_batches_follow_the_global_order(exported):
    _, out = exported
    ref = [s["__index__"] for s in MMVCDataset(out, seed=5, allow_ungated=True)]
    ds = MMVCDataset(out, seed=5, allow_ungated=True)
    flat = []
    for b in DataLoader(ds, batch_size=4, num_workers=2):
        flat += b["__index__"].tolist()
    assert flat == ref  # batch k comes from worker k % 2, in order


def test_decoders_are_pluggable(exported):
    from mmvc.loader import standard_decoders

    _, out = exported
    got = {s["modality"]: s for s in MMVCDataset(out, decoders=standard_decoders(), allow_ungated=True)}
    assert got["image"]["data"].size == (24, 16)
    assert got["text"]["data"].startswith("document ")
    seen = []
    ds = MMVCDataset(out, decoders={"text": lambda b, m: (len(b), m["source"])}, allow_ungated=True)
    for s in ds:
        if s["modality"] == "text":
            seen.append(s["data"])
    assert all(src == "fineweb" for _, src in seen) and len(seen) == 20


def test_reading_a_version_straight_from_the_store(exported):
    repo, out = exported
    from_export = [(s["key"], s["meta"]["oid"]) for s in MMVCDataset(out, shuffle=False, allow_ungated=True)]
    ds = MMVCDataset(repo=repo, rev="main", seed=7, shuffle=False, allow_ungated=True, store_shard_items=8)
    from_store = [(s["key"], s["meta"]["oid"]) for s in ds]
    assert from_store == from_export  # the same samples in the same order, no export needed
    assert all(s["data"] == open(os.path.join(repo.root, s["key"]), "rb").read()
               for s in MMVCDataset(repo=repo, rev="main", allow_ungated=True))
    with pytest.raises(GateError):
        MMVCDataset(repo=repo, rev="main")
    with pytest.raises(GateError):
        MMVCDataset(out)  # the export says its version is ungated
    with pytest.raises(BadInputError):
        MMVCDataset()
    with pytest.raises(BadInputError, match="no finished export"):
        MMVCDataset(os.path.join(out, "nowhere"), allow_ungated=True)


def test_reading_an_export_over_fsspec(repo, tmp_path):
    from mmvc.ops.export import export
    from tests.export.versions import make_version, mixed_items

    make_version(repo, mixed_items(10, 5))
    export(repo, "memory://loader-test/e1", shard_items=4, allow_ungated=True)
    ds = MMVCDataset("memory://loader-test/e1", cache_dir=str(tmp_path / "cache"), seed=1, allow_ungated=True)
    assert len({s["key"] for s in ds}) == 15 and len(os.listdir(tmp_path / "cache")) == 4
    import fsspec

    fsspec.filesystem("memory").rm("/loader-test", recursive=True)
