import pytest

from tests.export.versions import make_version, mixed_items


@pytest.fixture
def data_repo(repo):
    make_version(repo, mixed_items())
    return repo
