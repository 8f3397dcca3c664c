"""A real S3 server for tests: moto's server mode in its own process on 127.0.0.1.

Registered as a pytest plugin from tests/conftest.py, so every test can ask for the session
fixture ``s3_server``. A separate process (not moto's in-process mock) means the client under
test speaks real HTTP to a real endpoint, and a test can kill the server mid-transfer.

    def test_something(s3_server, monkeypatch):
        s3_server.apply_env(monkeypatch)           # AWS_* variables incl. AWS_ENDPOINT_URL
        bucket = s3_server.make_bucket()           # a fresh, uniquely named bucket
        url = f"s3://{bucket}/prefix"
        fs = s3_server.filesystem()                # an s3fs filesystem pointed at the server
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field

import pytest

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class S3Server:
    """A running moto server process and how to reach it."""

    process: subprocess.Popen
    port: int
    endpoint_url: str
    env: dict[str, str] = field(default_factory=dict)

    def apply_env(self, monkeypatch) -> None:
        """Point boto3/s3fs (and mmvc) at this server through the standard AWS variables."""
        for key, value in self.env.items():
            monkeypatch.setenv(key, value)
        for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", *(k for k in FAKE_CREDENTIALS if k not in self.env)):
            monkeypatch.delenv(key, raising=False)

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=self.env.get("AWS_SESSION_TOKEN"),
            region_name=self.env["AWS_DEFAULT_REGION"],
        )

    def filesystem(self):
        """A fresh (uncached) s3fs filesystem talking to this server."""
        import s3fs

        return s3fs.S3FileSystem(
            key=self.env["AWS_ACCESS_KEY_ID"],
            secret=self.env["AWS_SECRET_ACCESS_KEY"],
            token=self.env.get("AWS_SESSION_TOKEN"),
            client_kwargs={"endpoint_url": self.endpoint_url, "region_name": self.env["AWS_DEFAULT_REGION"]},
            skip_instance_cache=True,
        )

    def recorded(self, fn) -> list[tuple[str, str]]:
        """(method, url) of every request the server received while ``fn()`` ran (the server
        must have been started with ``record_to``)."""

        def call(action: str) -> bytes:
            method = "GET" if action == "download-recording" else "POST"
            req = urllib.request.Request(f"{self.endpoint_url}/moto-api/recorder/{action}", method=method)
            return urllib.request.urlopen(req, timeout=10).read()

        call("reset-recording")
        call("start-recording")
        try:
            fn()
        finally:
            call("stop-recording")
        return [(e["method"], e["url"]) for e in map(json.loads, call("download-recording").decode().splitlines()) if e]

    def make_bucket(self, name: str | None = None) -> str:
        name = name or f"test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_s3_server(port: int | None = None, timeout: float = 30.0, auth: bool = False, record_to: str | None = None) -> S3Server:
    """Start `moto_server` on 127.0.0.1 and wait until it answers; the caller stops it.

    ``auth``: the server checks credentials (moto's IAM enforcement). The first three requests
    are free: they create an IAM user allowed everything on S3, whose key then replaces the
    fake credentials in ``env``; any other key is refused like a real S3 refuses it.
    ``record_to``: the file where the server writes the requests it records (``S3Server.recorded``)."""
    port = port or free_port()
    endpoint = f"http://127.0.0.1:{port}"
    extra = {"INITIAL_NO_AUTH_ACTION_COUNT": "3"} if auth else {}
    if record_to:
        extra["MOTO_RECORDER_FILEPATH"] = record_to
    process = subprocess.Popen(
        [sys.executable, "-c", "from moto.server import main; main()", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **FAKE_CREDENTIALS, **extra},
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).read()
            break
        except (urllib.error.URLError, ConnectionError, OSError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"moto server did not start on {endpoint}") from None
            time.sleep(0.1)
    env = {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL_S3": endpoint}
    if auth:
        import boto3

        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        iam.create_user(UserName="mmvc-test")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="mmvc-test", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="mmvc-test")["AccessKey"]
        env.update(AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
        env.pop("AWS_SESSION_TOKEN")
    return S3Server(process=process, port=port, endpoint_url=endpoint, env=env)


@pytest.fixture(scope="session")
def s3_server():
    """One moto S3 server for the whole test session; tests isolate themselves by bucket."""
    server = start_s3_server()
    try:
        yield server
    finally:
        server.stop()
