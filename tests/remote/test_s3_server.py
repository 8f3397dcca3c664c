"""The moto S3 fixture itself: a real HTTP endpoint that s3fs and boto3 both reach."""

from __future__ import annotations


def test_s3_server_round_trip(s3_server, monkeypatch):
    s3_server.apply_env(monkeypatch)
    bucket = s3_server.make_bucket()
    fs = s3_server.filesystem()
    fs.pipe_file(f"{bucket}/a/b.txt", b"hello")
    assert fs.cat_file(f"{bucket}/a/b.txt") == b"hello"
    body = s3_server.client().get_object(Bucket=bucket, Key="a/b.txt")["Body"].read()
    assert body == b"hello"
    assert s3_server.alive()
