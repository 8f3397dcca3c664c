"""Refs on a remote, moved by compare-and-swap so that of two concurrent pushes exactly one wins.

Three mechanisms, picked by what the filesystem can do:

* **S3** (``s3://``): conditional writes. A ref is read with its ETag; it is replaced with
  ``PutObject If-Match: <etag>`` and created with ``If-None-Match: *``, so the store itself
  refuses a write based on a stale read (HTTP 412). Deleted with ``DeleteObject If-Match``.
* **Local folders** (``file://``): a ``<ref>.lock`` file created with O_EXCL (as Git does), the
  value compared under it, the new value written to a temp file and renamed over the ref.
* **Any other fsspec filesystem** (``memory://``, ``gs://`` …): a lease object ``<ref>.lease``
  holding a random token and an expiry (30 s). A writer takes the lease when there is none or
  it has expired, reads it back to confirm its token, compares, writes, and deletes the lease.
  This is best effort: two writers racing inside the same instant on a store without
  conditional writes can both believe they hold the lease.
"""

from __future__ import annotations

import json
import os
import time
import uuid

from mmvc.core.hashing import is_object_id
from mmvc.errors import ConflictError, RemoteError

LEASE_SECONDS = 30.0


def _parse(ref: str, data: bytes | None, remote_name: str) -> str | None:
    if data is None:
        return None
    text = data.decode("utf-8", "replace").strip()
    if not is_object_id(text):
        raise RemoteError(f"remote {remote_name}: ref {ref} is corrupt ({text[:80]!r})", "fix or delete it on the remote")
    return text


def _precondition_failed(exc: BaseException) -> bool:
    for e in (exc, exc.__cause__, exc.__context__):
        if e is None:
            continue
        if isinstance(e, FileExistsError):
            return True
        resp = getattr(e, "response", None)
        if isinstance(resp, dict) and resp.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
            return True
        if "precondition" in str(e).lower():
            return True
    return False


class RemoteRefs:
    def __init__(self, remote):
        self.remote = remote
        self.mode = "conditional" if remote.conditional_writes else ("lockfile" if remote.protocol in ("file", "local") else "lease")

    # -- reading

    def list(self) -> dict[str, str]:
        """Every ref on the remote (``refs/heads/…``, ``refs/tags/…``, ``refs/recipes/…``) → object id."""
        out: dict[str, str] = {}
        files = [f for f in self.remote.list_files("refs") if not f.endswith((".lock", ".lease"))]
        if not files:
            return out
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(16, len(files))) as pool:
            for rel, data in zip(files, pool.map(self.remote.cat, files)):
                oid = _parse(rel, data, self.remote.name)
                if oid:
                    out[rel] = oid
        return dict(sorted(out.items()))

    def read(self, ref: str) -> str | None:
        return _parse(ref, self.remote.cat(ref), self.remote.name)

    def head_branch(self) -> str | None:
        """The remote's default branch (its HEAD), or None when it has none."""
        data = self.remote.cat("HEAD")
        if data is None:
            return None
        text = data.decode("utf-8", "replace").strip()
        return text[5:].strip() if text.startswith("ref: ") else None

    def set_head_branch(self, ref: str) -> None:
        self.remote.put("HEAD", f"ref: {ref}\n".encode())

    # -- moving

    def update(self, ref: str, new: str | None, expected: str | None) -> None:
        """Move ``ref`` from ``expected`` (None: must not exist) to ``new`` (None: delete).
        Raises ConflictError when the remote ref is not ``expected`` at the moment of the write."""
        getattr(self, f"_update_{self.mode}")(ref, new, expected)

    def _conflict(self, ref: str, expected: str | None, found: str | None) -> ConflictError:
        branch = ref.split("/", 2)[-1]
        return ConflictError(
            f"{ref} on {self.remote.name} moved while this push ran (expected {(expected or 'none')[:12]}, found {(found or 'none')[:12]})",
            f"someone else pushed first: run `mmvc pull {self.remote.name} {branch}`, then push again",
        )

    # S3: conditional writes

    def _s3_call(self, method: str, **kw):
        from fsspec.asyn import sync

        fs = self.remote.fs
        return sync(fs.loop, fs._call_s3, method, **kw)

    def _read_with_etag(self, ref: str) -> tuple[str | None, str | None]:
        from fsspec.asyn import sync

        fs = self.remote.fs
        bucket, key, _ = fs.split_path(self.remote.path(ref))

        async def get():
            resp = await fs._call_s3("get_object", Bucket=bucket, Key=key)
            body = await resp["Body"].read()
            return body, resp.get("ETag")

        self.remote.count("get")
        try:
            body, etag = self.remote.guard(f"reading {ref}", sync, fs.loop, get)
        except FileNotFoundError:
            return None, None
        return _parse(ref, body, self.remote.name), etag

    def _update_conditional(self, ref: str, new: str | None, expected: str | None) -> None:
        fs = self.remote.fs
        bucket, key, _ = fs.split_path(self.remote.path(ref))
        current, etag = self._read_with_etag(ref)
        if current != expected:
            raise self._conflict(ref, expected, current)
        self.remote.count("put")
        try:
            if new is None:
                self._s3_call("delete_object", Bucket=bucket, Key=key, IfMatch=etag)
            elif etag is None:
                self._s3_call("put_object", Bucket=bucket, Key=key, Body=(new + "\n").encode(), IfNoneMatch="*")
            else:
                self._s3_call("put_object", Bucket=bucket, Key=key, Body=(new + "\n").encode(), IfMatch=etag)
        except Exception as e:
            if _precondition_failed(e):
                raise self._conflict(ref, expected, self.read(ref)) from None
            if isinstance(e, FileNotFoundError) and new is None:
                raise self._conflict(ref, expected, None) from None
            raise self.remote.error(e, f"updating {ref}") from e

    # local folders: O_EXCL lock file + rename

    def _update_lockfile(self, ref: str, new: str | None, expected: str | None) -> None:
        path = self.remote.path(ref)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        lock = path + ".lock"
        deadline = time.monotonic() + LEASE_SECONDS  # another push holds it for one small write at most
        while True:
            try:
                fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                break
            except FileExistsError:
                if time.monotonic() > deadline:
                    raise ConflictError(f"{ref} on {self.remote.name} is locked by another push ({lock} exists)",
                                        f"run the command again; if no push is running, delete {lock}") from None
                time.sleep(0.02)
            except OSError as e:
                raise self.remote.error(e, f"locking {ref}") from e
        try:
            os.close(fd)
            current = self.read(ref)
            if current != expected:
                raise self._conflict(ref, expected, current)
            self.remote.count("put")
            if new is None:
                os.unlink(path)
            else:
                tmp = f"{path}.tmp-{uuid.uuid4().hex}"
                try:
                    with open(tmp, "wb") as f:
                        f.write((new + "\n").encode())
                        f.flush()
                        os.fsync(f.fileno())
                    os.replace(tmp, path)
                except BaseException as e:
                    try:
                        os.unlink(tmp)  # a failed push leaves no temp file on the remote
                    except OSError:
                        pass
                    if isinstance(e, OSError):
                        raise self.remote.error(e, f"updating {ref}") from e
                    raise
        finally:
            try:
                os.unlink(lock)
            except OSError:
                pass

    # anything else: a lease object with an expiry

    def _update_lease(self, ref: str, new: str | None, expected: str | None) -> None:
        remote = self.remote
        lease_rel = ref + ".lease"
        token = uuid.uuid4().hex
        deadline = time.monotonic() + LEASE_SECONDS
        while True:
            held = remote.cat(lease_rel)
            doc = {}
            if held is not None:
                try:
                    doc = json.loads(held)
                except ValueError:
                    doc = {}
            if held is None or doc.get("expires", 0) < time.time():
                remote.put(lease_rel, json.dumps({"expires": time.time() + LEASE_SECONDS, "token": token}).encode())
                back = remote.cat(lease_rel)
                if back is not None and json.loads(back).get("token") == token:
                    break
            if time.monotonic() > deadline:
                raise ConflictError(f"{ref} on {remote.name} is leased by another push until {doc.get('expires')}",
                                    "run the command again once that push has finished")
            time.sleep(0.05)
        try:
            current = self.read(ref)
            if current != expected:
                raise self._conflict(ref, expected, current)
            if new is None:
                remote.count("put")
                remote.guard(f"deleting {ref}", remote.fs.rm_file, remote.path(ref))
            else:
                remote.put(ref, (new + "\n").encode())
        finally:
            try:
                back = remote.cat(lease_rel)
                if back is not None and json.loads(back).get("token") == token:
                    remote.guard("releasing a lease", remote.fs.rm_file, remote.path(lease_rel))
            except (RemoteError, OSError, ValueError):
                pass  # an expired lease is ignored by the next writer anyway
