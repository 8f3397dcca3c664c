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
