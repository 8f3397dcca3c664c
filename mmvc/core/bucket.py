"""A folder on any fsspec filesystem (``s3://``, ``gs://``, ``memory://``, ``file://`` …), as the
bucket store and a remote's refs use it: paths relative to its root, whole-file writes that
readers see complete or not at all, listings that are never stale, every request counted (push
and fetch report the counts; the benchmarks compare them: on S3 they are the HTTP requests
themselves, counted as the client sends them, so the HEADs and LISTs a filesystem call makes
on its own are in them too), and every failure turned into a
``RemoteError`` that names the bucket, the cause and the fix.

Credentials never come from mmvc: the filesystem library reads them from the environment
(``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, ``AWS_ENDPOINT_URL`` …) or from the options it is
opened with.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections import Counter

from mmvc.errors import CorruptError, MmvcError, RemoteError

S3_MAX_PUT = 5 << 30  # the largest object one S3 PUT may write
OBJECT_STORES = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory")  # a PUT lands whole or not at all


def open_filesystem(url: str, options: dict, name: str):
    """(filesystem, root path) for ``url``; a missing backend or a bad URL is a RemoteError."""
    from fsspec.core import url_to_fs

    opts = dict(options)
    protocol = url.split("://", 1)[0] if "://" in url else "file"
    if protocol in ("s3", "s3a", "gs", "gcs"):
        opts.setdefault("use_listings_cache", False)  # refs change under us; never trust a cached listing
    opts.setdefault("skip_instance_cache", True)  # credentials are read when the filesystem is made
    try:
        return url_to_fs(url, **opts)
    except ImportError as e:
        raise RemoteError(f"remote {name}: no filesystem for {url} ({e})",
                          f"install the fsspec backend for {protocol}:// (e.g. pip install s3fs, gcsfs)") from None
    except (ValueError, TypeError) as e:
        raise RemoteError(f"remote {name}: cannot open {url} ({e})", "check the URL and storage_options") from None


class Bucket:
    """One folder on one filesystem. ``requests`` counts the requests made, by kind."""

    def __init__(self, fs, root: str, name: str | None = None, url: str | None = None):
        self.fs = fs
        self.root = root.rstrip("/")
        self.url = url or self.root
        self.name = name or self.url
        self.requests: Counter = Counter()
        self._lock = threading.Lock()
        protos = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
        self.protocol = protos[0]
        self.atomic_puts = any(p in OBJECT_STORES for p in protos)
        self.on_the_wire = self.protocol in ("s3", "s3a") and self._count_on_the_wire()

    @classmethod
    def from_url(cls, url: str, **options) -> Bucket:
        fs, root = open_filesystem(url, options, url)
        return cls(fs, root, url=url)

    def path(self, rel: str = "") -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def count(self, kind: str, n: int = 1) -> None:
        """Count a request made through this bucket (on S3 the wire counts instead)."""
        if not self.on_the_wire:
            self._add(kind, n)

    def _add(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.requests[kind] += n

    def _count_on_the_wire(self) -> bool:
        """Count every HTTP request the S3 client sends (retries included), by method: one
        filesystem call may make several (``exists`` of a missing key is a HEAD and a LIST)."""
        try:
            self.fs.connect()  # makes the client; sends nothing
            emitters = [self.fs.s3.meta.events, self.fs.session]  # the session: clients made later
        except Exception:
            return False

        def sent(request, **_):
            method = request.method.upper()
            kind = "list" if method == "GET" and "list-type=" in (request.url or "") else method.lower()
            self._add(kind)

        for emitter in emitters:
            emitter.register("before-send.s3", sent)
        return True

    # -- failures

    def error(self, exc: BaseException, doing: str) -> RemoteError:
        """A RemoteError saying what failed, why, and what to do about it."""
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        low = text.lower()
        where = f"remote {self.name} ({self.url})"
        if isinstance(exc, PermissionError) or any(s in low for s in ("accessdenied", "access denied", "invalidaccesskeyid",
                                                                      "signaturedoesnotmatch", "forbidden", "credentials",
                                                                      "expiredtoken", "invalidtoken")):
            return RemoteError(f"{where} refused the credentials while {doing}: {exc}",
                               "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket policy")
        if "nosuchbucket" in low or "bucket" in low and "not exist" in low:
            return RemoteError(f"{where}: the bucket does not exist ({doing})", "create the bucket, or fix the URL with `mmvc remote add --force NAME URL`")
        if isinstance(exc, (ConnectionError, TimeoutError)) or any(s in low for s in ("connect", "timeout", "timed out", "unreachable",
                                                                                       "name or service", "connection")):
            return RemoteError(f"{where} is unreachable while {doing}: {exc}",
                               "check the network and the endpoint URL (AWS_ENDPOINT_URL or `--endpoint-url`), then run the command again; "
                               "what was already transferred is kept")
        return RemoteError(f"{where} failed while {doing}: {text}", "run the command again; what was already transferred is kept")

    def corrupt(self, message: str, hint: str) -> MmvcError:
        """The error for content of this bucket that is missing or fails its checks (a remote
        reports it as its own failure, a ``RemoteError``)."""
        return CorruptError(message, hint)

    def guard(self, doing: str, fn, *args, **kw):
        """Call ``fn``; any failure other than a missing file or an mmvc error becomes a RemoteError."""
        try:
            return fn(*args, **kw)
        except FileNotFoundError:
            raise
        except MmvcError:
            raise
        except Exception as e:  # fsspec backends raise anything from OSError to botocore and aiohttp errors
            raise self.error(e, doing) from e

    # -- reads

    def cat(self, rel: str) -> bytes | None:
        """The file's bytes, or None when it does not exist."""
        self.count("get")
        try:
            return self.guard(f"reading {rel}", self.fs.cat_file, self.path(rel))
        except FileNotFoundError:
            return None

    def cat_range(self, rel: str, start: int, end: int) -> bytes:
        self.count("get")
        return self.guard(f"reading {rel}", self.fs.cat_file, self.path(rel), start=start, end=end)

    def open_read(self, rel: str):
        """A stream of the file (FileNotFoundError when there is none); read errors of the
        stream itself are the caller's to ``guard``."""
        self.count("get")
        return self.guard(f"reading {rel}", self.fs.open, self.path(rel), "rb")

    def exists(self, rel: str) -> bool:
        self.count("head")
        return bool(self.guard(f"checking {rel}", self.fs.exists, self.path(rel)))

    def size(self, rel: str) -> int:
        self.count("head")
        return self.guard(f"checking {rel}", self.fs.size, self.path(rel))

    def list_files(self, rel: str) -> list[str]:
        """Every file under ``rel`` (recursive), as paths relative to the root; files still
        being written (``.tmp-*``) are left out."""
        self.count("list")
        try:
            self.fs.invalidate_cache(self.path(rel))
        except Exception:
            pass
        try:
            found = self.guard(f"listing {rel}", self.fs.find, self.path(rel))
        except FileNotFoundError:
            return []
        out = []
        for p in found:
            p = p.rstrip("/")
            rel_p = p[len(self.root) + 1 :] if p.startswith(self.root + "/") else p
            if "/.tmp-" not in "/" + rel_p:
                out.append(rel_p)
        return sorted(out)

    # -- writes

    def put(self, rel: str, data: bytes) -> None:
        """Write a whole file: readers see all of it or nothing (a temp name and a move where a
        PUT is not already atomic, as on a local folder)."""
        self._write_whole(rel, lambda dest: self.fs.pipe_file(dest, data), "writing")

    def put_file(self, local_path: str, rel: str) -> None:
        """Upload a local file. On S3, one PUT whose body is streamed from the file (up to S3's
        5 GiB for one PUT; s3fs would read it whole, or in 50 MiB parts, into memory first);
        elsewhere the backend's own upload."""
        if self.protocol in ("s3", "s3a") and os.path.getsize(local_path) < S3_MAX_PUT:
            self._write_whole(rel, lambda dest: self._put_streamed(local_path, dest), "uploading")
        else:
            self._write_whole(rel, lambda dest: self.fs.put_file(local_path, dest), "uploading")

    def _put_streamed(self, local_path: str, dest: str) -> None:
        from fsspec.asyn import sync

        bucket, key, _ = self.fs.split_path(dest)
        with open(local_path, "rb") as body:
            sync(self.fs.loop, self.fs._call_s3, "put_object", Bucket=bucket, Key=key, Body=body)

    def _write_whole(self, rel: str, write_to, verb: str) -> None:
        self.count("put")
        path = self.path(rel)

        def write():
            if self.atomic_puts:
                write_to(path)
                return
            parent = path.rsplit("/", 1)[0]
            self.fs.makedirs(parent, exist_ok=True)
            tmp = f"{parent}/.tmp-{uuid.uuid4().hex}"
            try:
                write_to(tmp)
                self.fs.mv(tmp, path)
            except BaseException:
                self._remove_quietly(tmp)  # a failed upload leaves nothing behind on the remote
                raise

        self.guard(f"{verb} {path}", write)

    def _remove_quietly(self, path: str) -> None:
        with contextlib.suppress(Exception):  # the original failure is what the user needs to see
            if self.fs.exists(path):
                self.fs.rm_file(path)

    def temp_name(self, rel_dir: str) -> str:
        """A fresh ``.tmp-*`` name in ``rel_dir``: invisible to ``list_files``, garbage if left."""
        return f"{rel_dir}/.tmp-{uuid.uuid4().hex}" if rel_dir else f".tmp-{uuid.uuid4().hex}"

    def open_write(self, rel: str):
        """A stream writing the file (for a temp name: a write to a final name must be whole)."""
        self.count("put")
        path = self.path(rel)
        if not self.atomic_puts:
            self.guard(f"writing {path}", self.fs.makedirs, path.rsplit("/", 1)[0], exist_ok=True)
        return self.guard(f"writing {path}", self.fs.open, path, "wb")

    def move(self, rel_from: str, rel_to: str) -> None:
        self.count("put")
        dest = self.path(rel_to)
        if not self.atomic_puts:
            self.guard(f"writing {dest}", self.fs.makedirs, dest.rsplit("/", 1)[0], exist_ok=True)
        self.guard(f"writing {dest}", self.fs.mv, self.path(rel_from), dest)

    def remove(self, rel: str) -> None:
        """Delete a file; one that is already gone is fine."""
        self.count("delete")
        try:
            self.guard(f"deleting {rel}", self.fs.rm_file, self.path(rel))
        except FileNotFoundError:
            pass
