"""The distributed dedup stages (Ray Data, local mode) give the in-process tiers' groups, and the
driver's dedup state does not grow with the item count."""

from __future__ import annotations

import numpy as np
import pytest

from tests.ops.test_gate import edit_one_word, text


def by_key(groups: dict[int, int], keys: list[str]) -> dict[str, str]:
    return {keys[a]: keys[b] for a, b in groups.items()}


def test_near_text_groups_equal_the_in_process_tier(ray_local):
    import ray

    from mmvc.process.distdedup import near_set_groups
    from mmvc.process.neardup import NearDupConfig, near_duplicate_groups, text_shingle_sets

    cfg = NearDupConfig()
    texts = [text(i) for i in range(150)]
    texts += [edit_one_word(texts[i]) for i in range(0, 150, 5)] + [texts[7], texts[7], "", "short one"]
    keys = [f"k{i:04d}" for i in range(len(texts))]
    want = near_duplicate_groups(keys, texts, cfg)
    sets = text_shingle_sets(texts, cfg)
    ds = ray.data.from_items([{"idx": i, "set": s.tolist()} for i, s in enumerate(sets)], override_num_blocks=4)
    got = by_key(near_set_groups(ds, cfg), keys)
    assert got == want and len(want) >= 32


def test_phash_groups_equal_the_in_process_tier(ray_local):
    import ray

    from mmvc.process.distdedup import phash_groups
    from mmvc.process.neardup import image_groups

    rng = np.random.default_rng(3)
    base = rng.integers(0, 1 << 63, 400, dtype=np.int64).view(np.uint64) | np.uint64(1 << 63)
    near = []
    for h in base[:60].tolist():  # 1 to 12 bits flipped: some within 10, some beyond
        bits = rng.choice(64, size=int(rng.integers(1, 13)), replace=False)
        near.append(h ^ int(sum(1 << int(b) for b in bits)))
    hashes = base.tolist() + near + [int(base[5])]
    keys = [f"i{i:04d}" for i in range(len(hashes))]
    want = image_groups(keys, hashes, 10)
    signed = np.array(hashes, dtype=np.uint64).view(np.int64)
    ds = ray.data.from_items([{"idx": i, "phash": int(h)} for i, h in enumerate(signed)], override_num_blocks=4)
    got = by_key(phash_groups(ds, 10), keys)
    assert got == want and len(want) > 20


@pytest.mark.parametrize("n,brute", [(600, 20000), (3000, 500)])
def test_semantic_groups_equal_the_in_process_tier(ray_local, n, brute):
    """Exhaustive below brute_force_max: the same groups. Clustered above it (different
    centroids than FAISS trains in-process): every planted copy is still found."""
    import ray

    from mmvc.process.distdedup import semantic_groups
    from mmvc.process.semantic import semantic_duplicates

    rng = np.random.default_rng(5)
    x = rng.normal(size=(n, 32)).astype(np.float32)
    planted = list(range(0, n, 10))
    x = np.concatenate([x, x[planted] + rng.normal(scale=0.01, size=(len(planted), 32)).astype(np.float32)])
    keys = [f"v{i:05d}" for i in range(len(x))]
    ds = ray.data.from_items([{"idx": i, "vector": v} for i, v in enumerate(x)], override_num_blocks=4)
    got = by_key(semantic_groups(ds, len(x), eps=0.01, brute_force_max=brute), keys)
    if n <= brute:
        assert got == semantic_duplicates(keys, x, eps=0.01, brute_force_max=brute)
    copies = {keys[n + j]: keys[i] for j, i in enumerate(planted)}
    assert all(got.get(k) == v for k, v in copies.items())


def _synthetic_sets(batch, n: int, dups: int = 20):
    """Sets of 50 values per item, made on the workers; the last ``dups`` items are copies of
    the first ``dups`` with two values changed (Jaccard 48/52)."""
    out = []
    for i in batch["id"].tolist():
        src = i - (n - dups) if i >= n - dups else i
        s = np.random.default_rng(src).integers(0, 1 << 62, 50, dtype=np.int64)
        if i != src:
            s[:2] = np.random.default_rng(10**9 + i).integers(0, 1 << 62, 2, dtype=np.int64)
        out.append(s.astype(np.uint64))
    col = np.empty(len(out), dtype=object)
    col[:] = out
    return {"idx": batch["id"].astype(np.int64), "set": col}


def test_driver_dedup_state_does_not_grow_with_the_item_count(ray_local):
    """tracemalloc in the driver around the whole near-exact tier at two sizes (4x apart): the
    items never come to the driver, only the 20 verified pairs do, so its peak stays put."""
    import sys
    import tracemalloc

    import ray
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import a test module by name

    from mmvc.process.distdedup import near_set_groups
    from mmvc.process.neardup import NearDupConfig

    peaks = {}
    for n in (2_000, 8_000, 2_000):
        ds = ray.data.range(n, override_num_blocks=8).map_batches(_synthetic_sets, fn_kwargs={"n": n}, batch_format="numpy")
        tracemalloc.start()
        groups = near_set_groups(ds, NearDupConfig())
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert groups == {n - 20 + i: i for i in range(20)}
    assert peaks[8_000] < 1.5 * peaks[2_000] + (256 << 10), peaks
