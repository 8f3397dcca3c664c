"""The filesystem under a remote: where things live on it, and failures translated into
``RemoteError`` naming the remote and the fix.

Layout on the remote (docs/format.md, "Remote layout"):

    <url>/mmvc-remote.json             {"format": 1, "type": "mmvc-remote"}
    <url>/HEAD                         "ref: refs/heads/<default branch>\\n"
    <url>/refs/heads/<branch>          "<commit id>\\n"   (also refs/tags/<tag>)
    <url>/objects/ab/cd/<id>           large objects, one file each
    <url>/objects/pack/pack-<h>.pack   small objects, in the local pack format (MMPK)
    <url>/objects/pack/pack-<h>.idx    its index (MMPI); uploaded after the .pack

Credentials never come from mmvc: the filesystem library reads them from the environment
(``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, ``AWS_ENDPOINT_URL`` …) or from ``storage_options``
in ``.mmvc/config.toml``, which is not part of any version.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field

from mmvc.errors import NewerFormatError, RemoteError

REMOTE_FORMAT = 1
MARKER = "mmvc-remote.json"
OBJECT_STORES = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory")  # a PUT lands whole or not at all


def marker_bytes() -> bytes:
    from mmvc.core.objects import canonical_json

    return canonical_json({"format": REMOTE_FORMAT, "type": "mmvc-remote"})


@dataclass
class RemoteSpec:
    """A remote as configured under ``[remote.NAME]``."""

    name: str
    url: str
    endpoint_url: str = ""
    storage_options: dict = field(default_factory=dict)
    promisor: bool = False  # this repository is a partial clone of it: absent blobs are fetched from it

    def options(self) -> dict:
        opts = dict(self.storage_options)
        if self.endpoint_url:
            opts.setdefault("endpoint_url", self.endpoint_url)
        return opts


class Remote:
    """One open remote. ``requests`` counts the requests made, by kind (for `--json` and the benchmark)."""

    def __init__(self, spec: RemoteSpec):
        from fsspec.core import url_to_fs

        self.spec = spec
        self.name = spec.name
        self.requests: Counter = Counter()
        self._lock = threading.Lock()
        opts = spec.options()
        protocol = spec.url.split("://", 1)[0] if "://" in spec.url else "file"
        if protocol in ("s3", "s3a", "gs", "gcs"):
            opts.setdefault("use_listings_cache", False)  # refs change under us; never trust a cached listing
        opts.setdefault("skip_instance_cache", True)  # credentials are read when the filesystem is made
        try:
            self.fs, root = url_to_fs(spec.url, **opts)
        except ImportError as e:
            raise RemoteError(f"remote {spec.name}: no filesystem for {spec.url} ({e})",
                              f"install the fsspec backend for {protocol}:// (e.g. pip install s3fs, gcsfs)") from None
        except (ValueError, TypeError) as e:
            raise RemoteError(f"remote {spec.name}: cannot open {spec.url} ({e})", "check the URL and storage_options") from None
        self.root = root.rstrip("/")
        protos = self.fs.protocol if isinstance(self.fs.protocol, (tuple, list)) else (self.fs.protocol,)
        self.protocol = protos[0]
        self.atomic_puts = any(p in OBJECT_STORES for p in protos)
        self.conditional_writes = any(p in ("s3", "s3a") for p in protos)

    # -- paths

    def path(self, rel: str = "") -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def object_path(self, oid: str) -> str:
        return self.path(f"objects/{oid[:2]}/{oid[2:4]}/{oid}")

    # -- bookkeeping

    def count(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.requests[kind] += n

    # -- failures

    def error(self, exc: BaseException, doing: str) -> RemoteError:
        """A RemoteError saying what failed, why, and what to do about it."""
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        low = text.lower()
        where = f"remote {self.name} ({self.spec.url})"
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

    def guard(self, doing: str, fn, *args, **kw):
        """Call ``fn``; any failure other than a missing file becomes a RemoteError."""
        try:
            return fn(*args, **kw)
        except FileNotFoundError:
            raise
        except RemoteError:
            raise
        except Exception as e:  # fsspec backends raise anything from OSError to botocore and aiohttp errors
            raise self.error(e, doing) from e

    # -- small files

    def cat(self, rel: str) -> bytes | None:
        """The file's bytes, or None when it does not exist."""
        self.count("get")
        try:
            return self.guard(f"reading {rel}", self.fs.cat_file, self.path(rel))
        except FileNotFoundError:
            return None

    def cat_range(self, path: str, start: int, end: int) -> bytes:
        self.count("get")
        return self.guard(f"reading {path}", self.fs.cat_file, path, start=start, end=end)

    def put(self, rel_or_path: str, data: bytes, absolute: bool = False) -> None:
        """Write a whole file: readers see all of it or nothing (a temp name and a move where a
        PUT is not already atomic, as on a local folder)."""
        path = rel_or_path if absolute else self.path(rel_or_path)
        self._write_whole(path, lambda dest: self.fs.pipe_file(dest, data), "writing")

    def put_file(self, local_path: str, path: str) -> None:
        """Upload a local file (multipart with a bounded buffer where the backend does that)."""
        self._write_whole(path, lambda dest: self.fs.put_file(local_path, dest), "uploading")

    def _write_whole(self, path: str, write_to, verb: str) -> None:
        self.count("put")

        def write():
            if self.atomic_puts:
                write_to(path)
                return
            parent = path.rsplit("/", 1)[0]
            self.fs.makedirs(parent, exist_ok=True)
            tmp = f"{parent}/.tmp-{uuid.uuid4().hex}"
            write_to(tmp)
            self.fs.mv(tmp, path)

        self.guard(f"{verb} {path}", write)

    def exists(self, path: str) -> bool:
        self.count("head")
        return bool(self.guard(f"checking {path}", self.fs.exists, path))

    def list_files(self, rel: str) -> list[str]:
        """Every file under ``rel`` (recursive), as paths relative to the remote's root."""
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

    # -- identity

    def check_marker(self, create: bool) -> bool:
        """Whether the remote holds an mmvc repository; ``create`` writes the marker when it
        does not (first push). A marker of a newer format is refused."""
        data = self.cat(MARKER)
        if data is None:
            if create:
                self.put(MARKER, marker_bytes())
            return False
        try:
            fmt = json.loads(data).get("format", 0)
        except ValueError:
            raise RemoteError(f"remote {self.name}: {MARKER} is not valid JSON", "the URL does not point at an mmvc remote")
        if fmt > REMOTE_FORMAT:
            raise NewerFormatError(f"remote {self.name}", fmt, REMOTE_FORMAT)
        return True

    def require_repository(self) -> None:
        if not self.check_marker(create=False):
            raise RemoteError(f"{self.spec.url} holds no mmvc repository (no {MARKER})",
                              "check the URL, or push to it first with `mmvc push`")
