"""Where a cluster's workers get blob bytes (``mmvc.process.blobs``): which source a run picks,
what a worker is told (never a secret), and how a worker's failure comes back as the run's
typed error. The sources at work on a real cluster: tests/process/test_cluster.py."""

from __future__ import annotations

import pytest

from mmvc.core.config import set_value
from mmvc.errors import BadInputError, RemoteError, StorageError
from mmvc.process.blobs import ERROR_STATUS, INLINE_BATCH_BYTES, error_row, plan_blobs, raise_worker_error
from mmvc.process.config import ProcessConfig
from mmvc.process.pipeline import _byte_bounded


def plan(repo, **process):
    for k, v in process.items():
        set_value(repo, "process", k, v)
    repo.__dict__.pop("config", None)
    return plan_blobs(repo, ProcessConfig.load(repo))


def add_remote(repo, name: str, url: str, **options) -> None:
    set_value(repo, f"remote.{name}", "url", url)
    for k, v in options.items():
        set_value(repo, f"remote.{name}.storage_options", k, v)


def test_without_a_cluster_workers_read_the_local_store(repo):
    add_remote(repo, "origin", "s3://bucket/data")
    source = plan(repo)
    assert source.kind == "local" and source.worker_spec == {"kind": "local", "root": repo.store.root}


def test_on_a_cluster_the_upstream_remote_is_the_default(repo):
    add_remote(repo, "origin", "s3://bucket/data")
    source = plan(repo, ray_address="10.0.0.5:6379")
    assert (source.kind, source.remote, source.worker_spec["url"]) == ("remote", "origin", "s3://bucket/data")


def test_a_local_folder_remote_is_no_default_and_ray_carries_the_bytes(repo, tmp_path):
    add_remote(repo, "origin", str(tmp_path / "remote"))
    assert plan(repo, ray_address="10.0.0.5:6379").kind == "ray"
    assert plan(repo, objects_from="origin").kind == "remote"  # named explicitly: the user says the workers see it


def test_objects_from_ray_a_url_and_an_unknown_name(repo):
    add_remote(repo, "origin", "s3://bucket/data")
    assert plan(repo, ray_address="auto", objects_from="ray").kind == "ray"
    assert plan(repo, objects_from="gs://other/prefix").worker_spec["url"] == "gs://other/prefix"
    with pytest.raises(BadInputError, match="objects_from names no remote: 'upstream'"):
        plan(repo, objects_from="upstream")


def test_secrets_stay_on_the_driver_and_credentials_travel_as_environment(repo, monkeypatch):
    add_remote(repo, "origin", "s3://bucket/data", key="AKIA-SECRET", secret="s3cr3t", region_name="eu-west-1")
    set_value(repo, "remote.origin", "endpoint_url", "http://minio:9000")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/not/for/s3")
    source = plan(repo, ray_address="10.0.0.5:6379")
    assert source.worker_spec["options"] == {"region_name": "eu-west-1", "endpoint_url": "http://minio:9000"}
    assert source.worker_spec["held_back"] == ["key", "secret"]
    assert "AKIA-SECRET" not in repr(source.worker_spec) and "s3cr3t" not in repr(source.worker_spec)
    assert source.env.get("AWS_ACCESS_KEY_ID") == "from-env" and "GOOGLE_APPLICATION_CREDENTIALS" not in source.env
    assert plan(repo, forward_credentials=False).env == {}


def test_a_workers_error_is_raised_in_the_driver_typed_with_its_hint():
    row = {"oid": "ab" * 32, **error_row(RemoteError("remote origin (s3://b) refused the credentials while reading x", "fix it"))}
    assert row["status"] == ERROR_STATUS
    with pytest.raises(RemoteError, match="could not read blob abab.* from remote origin: remote origin .* refused") as err:
        raise_worker_error(row, "remote origin")
    assert err.value.hint == "fix it" and err.value.exit_code == 12
    with pytest.raises(StorageError, match="OSError: boom"):
        raise_worker_error({"oid": "x", **error_row(OSError("boom"))}, "Ray's object store")


def test_bytes_through_ray_go_in_bounded_batches():
    rows = [{"oid": str(i), "size": INLINE_BATCH_BYTES // 3} for i in range(10)]
    chunks = _byte_bounded(rows)
    assert [len(c) for c in chunks] == [3, 3, 3, 1]
    assert [r for c in chunks for r in c] == rows
    assert _byte_bounded([{"oid": "big", "size": 2 * INLINE_BATCH_BYTES}, {"oid": "s", "size": 1}]) == [
        [{"oid": "big", "size": 2 * INLINE_BATCH_BYTES}], [{"oid": "s", "size": 1}]]
