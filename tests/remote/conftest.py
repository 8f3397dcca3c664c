"""Remote fixtures: one URL per backend (file://, memory://, s3:// on the moto server), and
small repositories with real items to move between them."""

from __future__ import annotations

import os
import uuid

import pytest


@pytest.fixture(params=["file", "memory", "s3"])
def remote_url(request, tmp_path, monkeypatch):
    """An empty remote location on each backend of the contract suite."""
    if request.param == "file":
        yield f"file://{tmp_path}/remote"
        return
    if request.param == "memory":
        url = f"memory://mmvc-test-{uuid.uuid4().hex}/remote"
        yield url
        import fsspec

        fs = fsspec.filesystem("memory")
        fs.rm(url.split("://", 1)[1], recursive=True)
        return
    server = request.getfixturevalue("s3_server")
    server.apply_env(monkeypatch)
    yield f"s3://{server.make_bucket()}/datasets/coco"


def write(repo, rel: str, data) -> None:
    path = os.path.join(repo.root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def commit_files(repo, files: dict, message: str) -> str:
    for rel, data in files.items():
        write(repo, rel, data)
    repo.add([os.path.join(repo.root, rel) for rel in files])
    return repo.commit(message).oid


def read(repo, rel: str) -> bytes:
    with open(os.path.join(repo.root, rel), "rb") as f:
        return f.read()


@pytest.fixture
def source(tmp_path):
    """A repository with two commits: 40 captions and a 300 KB text (stored loose, sent alone)."""
    from mmvc.repo import Repo

    repo = Repo.init(str(tmp_path / "source"), ungated=True)
    files = {f"captions/{i:03d}.txt": f"a caption number {i}\n" for i in range(40)}
    files["docs/big.txt"] = "x" * 300_000
    commit_files(repo, files, "first cut")
    commit_files(repo, {"captions/000.txt": "changed caption\n", "captions/new.txt": "a new one\n"}, "second")
    return repo
