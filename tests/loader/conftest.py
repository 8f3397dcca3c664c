import random

import pytest

from tests.export.versions import make_version, mixed_items


@pytest.fixture
def exported(repo, tmp_path):
    """(repo, export folder): 50 items in 7 shards of up to 8 samples."""
    from mmvc.ops.export import export

    make_version(repo, mixed_items())
    out = str(tmp_path / "export")
    export(repo, out, seed=7, shard_items=8, allow_ungated=True)
    return repo, out


@pytest.fixture
def big_shards(repo, tmp_path):
    """(repo root, export): 120 items of 20 KB in 3 shards, large enough for multi-threaded
    hashing (what hung a worker forked after an in-process epoch)."""
    from mmvc.ops.export import export

    rng = random.Random(0)
    make_version(repo, {f"blob/b{i:03d}.jpg": rng.randbytes(20_000) for i in range(120)})
    out = str(tmp_path / "export")
    export(repo, out, seed=1, shard_items=40, allow_ungated=True)
    return repo.root, out
