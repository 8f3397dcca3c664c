"""What only a real S3 server shows: credentials refused, a connection cut mid-push, request counts."""

from __future__ import annotations

import os
import socket
import threading

import pytest
from click.testing import CliRunner

from mmvc.cli.main import cli
from mmvc.errors import RemoteError
from mmvc.ops.clone import clone
from mmvc.ops.push import push
from mmvc.ops.remote import add_remote
from mmvc.repo import Repo

from tests.remote.conftest import commit_files, read
from tests.s3_server import free_port, start_s3_server


class CuttableProxy:
    """A TCP relay in front of the S3 server that drops every connection once ``limit`` bytes
    have gone upstream (the network or the server dying mid-transfer), and can be started again."""

    def __init__(self, upstream_port: int, limit: int | None = None):
        self.upstream_port = upstream_port
        self.port = free_port()
        self.limit = limit
        self.sent = 0
        self.cut = threading.Event()
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.cut.clear()
        self.sent = 0
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        self._listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def _accept(self, ls) -> None:
        while True:
            try:
                client, _ = ls.accept()
            except OSError:
                return
            if self.cut.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self._socks += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src, dst, counts: bool) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
                if counts:
                    with self._lock:
                        self.sent += len(chunk)
                        over = self.limit is not None and self.sent > self.limit
                    if over:
                        self.kill()
                        return
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def kill(self) -> None:
        self.cut.set()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def _many_captions(n: int, size: int = 1000) -> dict:
    return {f"text/{i:05d}.txt": (f"caption {i} " * (size // 10))[:size] + "\n" for i in range(n)}


def test_push_cut_mid_transfer_resumes_and_never_exposes_a_partial_version(s3_server, monkeypatch, tmp_path):
    s3_server.apply_env(monkeypatch)
    bucket = s3_server.make_bucket()
    url = f"s3://{bucket}/repo"
    repo = Repo.init(str(tmp_path / "src"), ungated=True)
    files = {f"text/{i:03d}.txt": os.urandom(6000).hex() for i in range(80)}  # ~960 KB, 15 packs of 64 KiB
    commit_files(repo, files, "v1")
    proxy = CuttableProxy(s3_server.port, limit=400_000)
    proxy.start()
    add_remote(repo, "origin", url, endpoint_url=proxy.endpoint_url)
    with pytest.raises(RemoteError) as e:
        push(repo, jobs=1, pack_bytes=64 << 10)
    assert "unreachable" in e.value.message or "failed" in e.value.message
    fs = s3_server.filesystem()
    assert not fs.exists(f"{bucket}/repo/refs/heads/main")  # no ref names the half-sent version
    landed = [p for p in fs.find(f"{bucket}/repo/objects/pack") if p.endswith(".idx")]
    assert landed, "some packs should have landed before the cut"
    assert repo.refs.read("refs/remotes/origin/main") is None

    proxy.limit = None
    proxy.start()
    r = push(repo, jobs=1, pack_bytes=64 << 10)
    assert r.updates[0].status == "new"
    assert r.already_there >= len(landed) * 5  # what landed before the cut was not sent again
    assert r.objects < len(files) + 3

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    c = Repo(clone(url, str(tmp_path / "copy"), endpoint_url=s3_server.endpoint_url).path)
    assert c.fsck().ok
    assert read(c, "text/042.txt") == files["text/042.txt"].encode()


def test_wrong_credentials_are_a_clear_error_with_exit_12(monkeypatch, tmp_path):
    server = start_s3_server(auth=True)
    try:
        server.apply_env(monkeypatch)
        bucket = server.make_bucket()
        repo = Repo.init(str(tmp_path / "src"), ungated=True)
        commit_files(repo, {"a.txt": "hello\n"}, "v1")
        add_remote(repo, "origin", f"s3://{bucket}/repo")
        push(repo)  # the right key works

        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        monkeypatch.chdir(repo.root)
        res = CliRunner().invoke(cli, ["push", "origin", "main", "--force"])
        assert res.exit_code == 12, res.output
        assert "refused the credentials" in res.output and "AWS_ACCESS_KEY_ID" in res.output
        res = CliRunner().invoke(cli, ["clone", f"s3://{bucket}/repo", str(tmp_path / "c")])
        assert res.exit_code == 12, res.output
        assert not os.path.exists(tmp_path / "c")
    finally:
        server.stop()


def test_unreachable_endpoint_is_exit_12(s3_server, monkeypatch, tmp_path):
    s3_server.apply_env(monkeypatch)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    res = CliRunner().invoke(cli, ["clone", "s3://nowhere/repo", str(tmp_path / "c")])
    assert res.exit_code == 12, res.output
    assert "unreachable" in res.output


def test_small_files_travel_in_packs(s3_server, monkeypatch, tmp_path):
    s3_server.apply_env(monkeypatch)
    url = f"s3://{s3_server.make_bucket()}/repo"
    repo = Repo.init(str(tmp_path / "src"), ungated=True)
    n = 3000
    commit_files(repo, _many_captions(n), "many captions")
    add_remote(repo, "origin", url)
    r = push(repo)
    assert r.objects >= n
    assert r.requests["put"] <= n // 100  # ≤ 1% of the number of files
    again = push(repo)
    assert again.up_to_date and sum(again.requests.values()) <= 5
    assert "put" not in again.requests
    # a metadata-only clone reads manifests in a few ranged GETs, never one per item
    c = clone(url, str(tmp_path / "ci"), filter="blob:none", no_checkout=True)
    assert c.fetch.requests["get"] <= 20


def test_storage_options_from_config_reach_the_filesystem(s3_server, monkeypatch, tmp_path):
    s3_server.apply_env(monkeypatch)
    bucket = s3_server.make_bucket()
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    repo = Repo.init(str(tmp_path / "src"), ungated=True)
    commit_files(repo, {"a.txt": "hello\n"}, "v1")
    with open(f"{repo.dir}/config.toml", "a") as f:
        f.write(f'\n[remote.origin]\nurl = "s3://{bucket}/repo"\n\n[remote.origin.storage_options]\n'
                f'endpoint_url = "{s3_server.endpoint_url}"\n')
    repo = Repo(repo.root)
    assert push(repo).updates[0].status == "new"
    assert s3_server.filesystem().cat_file(f"{bucket}/repo/refs/heads/main").decode().strip() == repo.refs.read("refs/heads/main")


def test_request_counts_are_every_request_the_server_received(monkeypatch, tmp_path):
    """``requests`` of a push, a push with nothing new and a clone: every HTTP request, by kind,
    as the server recorded them (the HEADs and LISTs a filesystem call makes on its own too)."""
    from collections import Counter

    server = start_s3_server(record_to=str(tmp_path / "recording.jsonl"))
    try:
        server.apply_env(monkeypatch)
        url = f"s3://{server.make_bucket()}/repo"
        repo = Repo.init(str(tmp_path / "src"), ungated=True)
        files = {f"d/{i}.txt": f"item {i}\n" for i in range(50)}
        files["big.bin"] = os.urandom(300_000).hex()  # above the pack threshold: travels alone
        commit_files(repo, files, "v1")
        add_remote(repo, "origin", url)
        results = []

        def by_kind(recorded):
            return Counter("list" if m == "GET" and "list-type=" in u else m.lower() for m, u in recorded)

        for run in (lambda: results.append(push(repo).requests), lambda: results.append(push(repo).requests),
                    lambda: results.append(clone(url, str(tmp_path / "c")).fetch.requests)):
            recorded = server.recorded(run)
            assert results[-1] == by_kind(recorded), recorded
        assert results[0]["head"] >= 1 and results[0]["put"] >= 3
    finally:
        server.stop()
