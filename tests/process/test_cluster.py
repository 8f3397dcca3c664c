"""`mmvc process --ray-address` on a real two-node Ray cluster whose worker cannot see the
repository's disk (``tests/ray_cluster.py``): the workers get blob bytes through Ray's object
store, or from an S3 remote (moto's server), and the verdicts equal a local run's on a copy.
Faults (an unreachable cluster, workers the remote refuses) stop the run with their exit code
and record nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from mmvc.core.config import set_value
from mmvc.repo import Repo
from mmvc.services.runs import find_run
from tests.process.test_pipeline import rows_by_path, sample_files, tiny_repo
from tests.s3_server import free_port, start_s3_server

pytestmark = pytest.mark.cluster


def mmvc(cwd: str, *args: str, env: dict | None = None, timeout: int = 480) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from mmvc.cli.main import main; main()", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def verdicts(repo) -> dict:
    return {p: (r.status, r.reason, r.duplicate_of) for p, r in rows_by_path(repo).items()}


def run_record(repo) -> dict:
    index = repo.load_index()
    ids = {e.proc_id for e in index.iter_entries() if e.proc_id}
    assert len(ids) == 1
    return find_run(repo, ids.pop())


def unprocessed(repo) -> bool:
    return all(not e.proc_id for e in repo.load_index().iter_entries())


def cluster_and_local(ray_cluster, tmp_path, tiny_models, env: dict, remote: str = ""):
    """A repository under the folder the worker cannot see, processed on the cluster; and a copy
    of it processed in this process. Returns (cluster repo, local repo, the CLI's result)."""
    root = ray_cluster.new_folder("repo")
    repo = tiny_repo(root, tiny_models, sample_files())
    if remote:
        set_value(repo, "remote.origin", "url", remote)  # the local run reads its own store, whatever the remotes
    local_root = str(tmp_path / "local")
    shutil.copytree(root, local_root, symlinks=True)
    out = mmvc(root, "process", "--ray-address", ray_cluster.address, "--json", env={**ray_cluster.env, **env})
    assert out.returncode == 0, out.stderr
    local = Repo(local_root)
    local.process()
    return Repo(root), local, json.loads(out.stdout)


def test_the_worker_node_cannot_see_the_repositories(ray_cluster):
    """What the other tests rest on: a task on the cluster (which only the worker node can run)
    finds no repository where this process sees one."""
    root = ray_cluster.new_folder("seen")
    code = ("import os, sys, ray, logging; ray.init(address=sys.argv[1], logging_level=logging.ERROR, log_to_driver=False); "
            "print(ray.get(ray.remote(num_cpus=1)(lambda p: os.path.exists(p)).remote(sys.argv[2])))")
    out = subprocess.run([sys.executable, "-c", code, ray_cluster.address, root], capture_output=True, text=True, timeout=300,
                         env={**os.environ, **ray_cluster.env})
    assert os.path.isdir(root)
    assert out.returncode == 0 and out.stdout.split()[-1] == "False", out.stderr


def test_bytes_through_ray_give_the_local_verdicts(ray_cluster, tmp_path, tiny_models):
    repo, local, res = cluster_and_local(ray_cluster, tmp_path, tiny_models, {})
    assert res["engine"] == "ray"
    assert res["ran_on"] == {"mode": "cluster", "address": ray_cluster.address, "nodes": 2, "blobs": "ray"}
    assert run_record(repo)["ran_on"] == res["ran_on"]
    assert run_record(local)["ran_on"] == {"mode": "local"}
    mine = verdicts(repo)
    assert mine == verdicts(local)
    assert {s for s, _, _ in mine.values()} == {"passed", "duplicate", "rejected"}


def test_bytes_from_an_s3_remote_give_the_local_verdicts(ray_cluster, tmp_path, tiny_models, s3_server):
    bucket = s3_server.make_bucket()
    repo, local, res = cluster_and_local(ray_cluster, tmp_path, tiny_models, s3_server.env, remote=f"s3://{bucket}/data")
    assert res["ran_on"] == {"mode": "cluster", "address": ray_cluster.address, "nodes": 2, "blobs": "remote"}
    assert verdicts(repo) == verdicts(local)
    packs = s3_server.filesystem().ls(f"{bucket}/data/objects/pack")
    assert any(p.endswith(".pack") for p in packs)  # the staged blobs went up in packs, as push sends them


def test_workers_the_remote_refuses_stop_the_run(ray_cluster, tiny_models):
    """The driver can upload, the workers (no credentials forwarded, none of their own) cannot
    read: exit 12 naming the workers and the fix, and nothing recorded."""
    server = start_s3_server(auth=True)
    try:
        import boto3

        boto3.client("s3", endpoint_url=server.endpoint_url, region_name="us-east-1", aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
                     aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"]).create_bucket(Bucket="locked")
        root = ray_cluster.new_folder("repo-auth")
        repo = tiny_repo(root, tiny_models, {"a.txt": "some words to judge here\n", "b.txt": "other words entirely\n"},
                         forward_credentials=False)
        set_value(repo, "remote.origin", "url", "s3://locked/data")
        set_value(repo, "remote.origin", "endpoint_url", server.endpoint_url)
        out = mmvc(root, "process", "--ray-address", ray_cluster.address, env={**ray_cluster.env, **server.env})
    finally:
        server.stop()
    assert out.returncode == 12, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert "Ray workers' remote origin" in lines[0] and "refused the credentials" in lines[0]
    assert "forward_credentials" in out.stderr
    assert unprocessed(Repo(root))


def test_unreachable_cluster_is_a_clear_error(tmp_path, tiny_models):
    repo = tiny_repo(tmp_path, tiny_models, {"a.txt": "some words\n"})
    address = f"127.0.0.1:{free_port()}"
    out = mmvc(repo.root, "process", "--ray-address", address, timeout=120)
    assert out.returncode == 15, out.stderr
    assert f"cannot reach the Ray cluster at {address}" in out.stderr
    assert "RAY_AUTH_TOKEN" in out.stderr
    assert unprocessed(Repo(repo.root))


def test_a_refused_token_is_a_clear_error(ray_cluster, tiny_models):
    root = ray_cluster.new_folder("repo-token")
    tiny_repo(root, tiny_models, {"a.txt": "some words\n"})
    out = mmvc(root, "process", "--ray-address", ray_cluster.address, env={**ray_cluster.env, "RAY_AUTH_TOKEN": "0" * 64},
               timeout=240)
    assert out.returncode == 15, out.stderr
    assert f"cannot join the Ray cluster at {ray_cluster.address}" in out.stderr
    assert unprocessed(Repo(root))


def test_a_node_lost_mid_run_is_rescheduled_or_stops_cleanly(ray_cluster, tmp_path, tiny_models):
    """A second worker node joins; the node that decodes story.txt dies with its worker (its
    raylet killed). Ray moves the work to the node left and the run gives the local verdicts, or
    the run stops with exit 15 and records nothing; never a verdict about the lost node."""
    ray_cluster.add_worker()
    marker = str(tmp_path / "node-killed")
    root = ray_cluster.new_folder("repo-lost")
    tiny_repo(root, tiny_models, sample_files())
    local_root = str(tmp_path / "local")
    shutil.copytree(root, local_root, symlinks=True)
    out = mmvc(root, "process", "--ray-address", ray_cluster.address,
               env={**ray_cluster.env, "MMVC_FAILPOINT": f"decode:story.txt:node:{marker}"})
    assert os.path.exists(marker)  # a node was taken down
    assert out.returncode in (0, 15), out.stderr
    if out.returncode == 15:
        assert "lost" in out.stderr and unprocessed(Repo(root))
    else:
        local = Repo(local_root)
        local.process()
        assert verdicts(Repo(root)) == verdicts(local)
