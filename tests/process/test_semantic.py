"""Semantic dedup over planted near-copies: who is grouped, who is kept, and that the clustered
path for large sets finds what the exhaustive one finds."""

from __future__ import annotations

import numpy as np
import pytest

from mmvc.process.semantic import semantic_duplicates


def _unit(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _near(rng, v, scale):
    y = v + rng.standard_normal(v.shape).astype(np.float32) * scale
    return y / np.linalg.norm(y, axis=-1, keepdims=True)


@pytest.fixture
def planted():
    """40 random 64-d vectors; 3 is a near-copy of 0, 7 and 12 of 5 (a group of three), and 20
    is close to 10 but outside the default threshold."""
    rng = np.random.default_rng(1)
    x = _unit(rng, 40, 64)
    x[3] = _near(rng, x[0], 0.005)
    x[7] = _near(rng, x[5], 0.005)
    x[12] = _near(rng, x[7], 0.005)
    x[20] = _near(rng, x[10], 0.03)
    assert float(x[20] @ x[10]) < 0.99
    keys = [f"item{i:02d}" for i in range(40)]
    return keys, x


def test_near_copies_are_grouped_and_first_is_kept(planted):
    keys, x = planted
    assert semantic_duplicates(keys, x) == {"item03": "item00", "item07": "item05", "item12": "item05"}


def test_eps_widens_the_threshold(planted):
    keys, x = planted
    dups = semantic_duplicates(keys, x, eps=0.1)
    assert dups["item20"] == "item10"
    assert semantic_duplicates(keys, x, eps=0.0) == {}


def test_exact_copies_at_eps_zero():
    x = _unit(np.random.default_rng(2), 5, 16)
    x[4] = x[1]
    assert semantic_duplicates(list("abcde"), x, eps=0.0) == {"e": "b"}


def test_keep_largest_and_quality(planted):
    keys, x = planted
    sizes = np.arange(40, dtype=float)
    assert semantic_duplicates(keys, x, keep="largest", sizes=sizes) == {
        "item00": "item03", "item05": "item12", "item07": "item12"}
    quality = np.zeros(40)
    quality[7] = 0.9
    quality[0] = np.nan
    # A missing score (NaN) loses to any score.
    assert semantic_duplicates(keys, x, keep="quality", quality=quality) == {
        "item00": "item03", "item05": "item07", "item12": "item07"}


def test_ties_fall_back_to_order(planted):
    keys, x = planted
    assert semantic_duplicates(keys, x, keep="largest", sizes=np.ones(40)) == semantic_duplicates(keys, x)


def test_order_of_keys_decides_first(planted):
    keys, x = planted
    perm = np.arange(40)[::-1]
    dups = semantic_duplicates([keys[i] for i in perm], x[perm])
    assert dups == {"item00": "item03", "item05": "item12", "item07": "item12"}


def test_nan_rows_are_skipped(planted):
    keys, x = planted
    x = x.copy()
    x[0] = np.nan
    x[7] = np.nan
    x[30] = 0.0
    # 12 still matches 5 directly; 0's copy and 7 take no part.
    assert semantic_duplicates(keys, x) == {"item12": "item05"}


def test_unnormalised_input_is_normalised(planted):
    keys, x = planted
    scaled = x * np.linspace(0.5, 3.0, 40, dtype=np.float32)[:, None]
    assert semantic_duplicates(keys, scaled) == semantic_duplicates(keys, x)


def test_bad_arguments():
    x = _unit(np.random.default_rng(0), 3, 8)
    with pytest.raises(ValueError, match="keep policy"):
        semantic_duplicates(list("abc"), x, keep="newest")
    with pytest.raises(ValueError, match="sizes"):
        semantic_duplicates(list("abc"), x, keep="largest")
    with pytest.raises(ValueError, match="unique"):
        semantic_duplicates(list("aab"), x)
    with pytest.raises(ValueError, match="shape"):
        semantic_duplicates(list("ab"), x)
    assert semantic_duplicates([], np.zeros((0, 8), np.float32)) == {}


def test_many_bit_identical_vectors_are_cheap():
    x = np.tile(_unit(np.random.default_rng(3), 1, 32), (20000, 1))
    dups = semantic_duplicates([str(i) for i in range(20000)], x)
    assert len(dups) == 19999 and set(dups.values()) == {"0"}


def test_clustered_path_finds_planted_pairs_in_30k():
    """Random vectors have no cluster structure, the hardest case for k-means: near-copies land
    on cluster borders as often as they ever will. Every planted pair must still be found, and
    nothing else."""
    rng = np.random.default_rng(0)
    n, d, pairs = 30000, 384, 300
    x = _unit(rng, n, d)
    src = rng.choice(n, pairs, replace=False)
    dst = rng.choice(np.setdiff1d(np.arange(n), src), pairs, replace=False)
    x[dst] = _near(rng, x[src], 0.004)
    keys = [f"k{i}" for i in range(n)]
    expected = {keys[max(a, b)]: keys[min(a, b)] for a, b in zip(src, dst)}
    assert semantic_duplicates(keys, x, brute_force_max=1000) == expected


def test_clustered_matches_exhaustive_with_groups():
    rng = np.random.default_rng(4)
    x = _unit(rng, 3000, 32)
    for base in range(0, 300, 10):
        for k in range(1, 4):
            x[base + k] = _near(rng, x[base], 0.003)
    keys = [f"k{i}" for i in range(3000)]
    exhaustive = semantic_duplicates(keys, x)
    assert len(exhaustive) == 90
    assert semantic_duplicates(keys, x, brute_force_max=100) == exhaustive
