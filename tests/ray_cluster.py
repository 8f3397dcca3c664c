"""A real two-node Ray cluster on this one machine, whose worker cannot see the test repositories.

Registered as a pytest plugin from tests/conftest.py: the session fixture ``ray_cluster`` starts
a head node that runs nothing (``--num-cpus 0``) and one worker node inside its own mount
namespace (``unshare --mount``) with a tmpfs mounted over ``ray_cluster.hidden``; a test keeps
its repositories under that folder, so every task the cluster runs provably works without the
repository's disk. The cluster uses Ray's default token authentication with a token of its own,
which ``ray_cluster.env`` hands to the driver.

Both nodes are started with ``--block`` in a session of their own and stopped by killing those
process groups: never ``ray stop``, which ends every Ray on the machine.

    def test_something(ray_cluster, tmp_path):
        repo_dir = ray_cluster.new_folder("repo")          # invisible to the worker
        env = {**os.environ, **ray_cluster.env}            # a driver's environment
        subprocess.run(["mmvc", "process", "--ray-address", ray_cluster.address], env=env, ...)
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import pytest

from tests.s3_server import free_port


@dataclass
class RayCluster:
    address: str
    hidden: str  # a folder the worker node sees as an empty tmpfs
    env: dict[str, str]  # what a driver needs to connect (the token)
    processes: list[subprocess.Popen] = field(default_factory=list)
    root: str = ""

    def new_folder(self, name: str) -> str:
        path = tempfile.mkdtemp(prefix=name + "-", dir=self.hidden)
        return path

    def add_worker(self, num_cpus: int = 1, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start one more worker node (its own mount namespace, the hidden folder masked) and
        wait until the cluster counts it."""
        before = self.alive_nodes()
        ray = os.path.join(os.path.dirname(sys.executable), "ray")
        inner = (f"mount -t tmpfs tmpfs {self.hidden} && exec {ray} start --address {self.address} --node-ip-address 127.0.0.1 "
                 f"--num-cpus {num_cpus} --object-store-memory {200 << 20} --block --disable-usage-stats --temp-dir {self.root}/w{len(self.processes)}")
        proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", inner],
                                env={**self._node_env(), **(env or {})}, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.root, f"w{len(self.processes)}.log"), "wb"))
        self.processes.append(proc)
        self.wait_nodes(before + 1, proc)
        return proc

    def _node_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RAY_", "MMVC_"))}
        # a worker node with no credentials of its own (and no instance metadata to look for them in)
        return {**env, **self.env, "AWS_EC2_METADATA_DISABLED": "true"}

    def alive_nodes(self) -> int:
        code = ("import ray, logging; ray.init(address=%r, logging_level=logging.ERROR, log_to_driver=False); "
                "print(sum(1 for n in ray.nodes() if n['Alive']))") % self.address
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **self.env}, capture_output=True, text=True,
                             timeout=120)
        return int(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else 0

    def wait_nodes(self, n: int, proc: subprocess.Popen, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.alive_nodes() < n:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Ray node did not join the cluster at {self.address} (logs in {self.root})")
            time.sleep(1)

    def stop_process(self, proc: subprocess.Popen) -> None:
        """End one node: its process group (the node's own processes), TERM then KILL."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=15)
                if sig == signal.SIGTERM:
                    time.sleep(1)  # the node's children get a moment; what is left gets KILL
            except subprocess.TimeoutExpired:
                pass

    def stop(self) -> None:
        for proc in reversed(self.processes):
            self.stop_process(proc)
        shutil.rmtree(self.root, ignore_errors=True)


def cluster_unavailable() -> str | None:
    """Why this machine cannot host the test cluster, or None."""
    if os.geteuid() != 0:
        return "the worker node's private tmpfs needs root (mount in a new mount namespace)"
    if not shutil.which("unshare"):
        return "no unshare(1)"
    if not os.path.exists(os.path.join(os.path.dirname(sys.executable), "ray")):
        return "ray is not installed"
    return None


def start_ray_cluster(workers: int = 1) -> RayCluster:
    root = tempfile.mkdtemp(prefix="mmvc-ray-")
    hidden = os.path.join(root, "hidden")
    os.makedirs(hidden)
    port = free_port()
    env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    cluster = RayCluster(address=f"127.0.0.1:{port}", hidden=hidden, env=env, root=root)
    ray = os.path.join(os.path.dirname(sys.executable), "ray")
    head = subprocess.Popen([ray, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "0",
                             "--object-store-memory", str(200 << 20),
                             "--temp-dir", os.path.join(root, "head"), "--include-dashboard=false", "--disable-usage-stats",
                             "--block"],
                            env=cluster._node_env(), start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(root, "head.log"), "wb"))
    cluster.processes.append(head)
    try:
        cluster.wait_nodes(1, head)
        for _ in range(workers):
            cluster.add_worker()
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture(scope="session")
def ray_cluster():
    """A head node and one worker node that cannot see ``ray_cluster.hidden``."""
    why = cluster_unavailable()
    if why:
        pytest.skip(why)
    cluster = start_ray_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
