"""A remote: a bucket (``mmvc.core.bucket``: requests counted, failures translated into
``RemoteError`` naming the remote and the fix) holding an mmvc repository.

Layout on the remote (docs/format.md, "Remote layout"):

    <url>/mmvc-remote.json             {"format": 1, "type": "mmvc-remote"}
    <url>/HEAD                         "ref: refs/heads/<default branch>\\n"
    <url>/refs/heads/<branch>          "<commit id>\\n"   (also refs/tags/<tag>)
    <url>/objects/ab/cd/<id>           large objects, one file each
    <url>/objects/pack/pack-<h>.pack   small objects, in the local pack format (MMPK)
    <url>/objects/pack/pack-<h>.idx    its index (MMPI); uploaded after the .pack

Its objects are a bucket store (``mmvc.core.fsspec_store``) over ``objects/``. Credentials never
come from mmvc: the filesystem library reads them from the environment (``AWS_ACCESS_KEY_ID``,
``AWS_PROFILE``, ``AWS_ENDPOINT_URL`` …) or from ``storage_options`` in ``.mmvc/config.toml``,
which is not part of any version.
"""

from __future__ import annotations

import json
from mmvc.core.bucket import Bucket, open_filesystem
from mmvc.core.fsspec_store import DEFAULT_JOBS, PACK_TARGET_BYTES, FsspecObjectStore
from mmvc.core.store import DEFAULT_PACK_THRESHOLD
from mmvc.errors import NewerFormatError, RemoteError
from mmvc.services.remotes import RemoteSpec

REMOTE_FORMAT = 2  # 2: objects carry headers (docs/format.md, "Remote layout")
MARKER = "mmvc-remote.json"


def marker_bytes() -> bytes:
    from mmvc.core.objects import canonical_json

    return canonical_json({"format": REMOTE_FORMAT, "type": "mmvc-remote"})


class Remote(Bucket):
    """One open remote: its bucket, its objects (``objects()``) and its identity marker."""

    def __init__(self, spec: RemoteSpec):
        self.spec = spec
        fs, root = open_filesystem(spec.url, spec.options(), spec.name)
        super().__init__(fs, root, spec.name, spec.url)
        self.conditional_writes = self.protocol in ("s3", "s3a")

    def objects(self, cache_dir: str | None = None, jobs: int = DEFAULT_JOBS, pack_threshold: int = DEFAULT_PACK_THRESHOLD,
                pack_max_bytes: int = PACK_TARGET_BYTES) -> FsspecObjectStore:
        """The remote's object store (``objects/``); ``cache_dir`` keeps copies of its pack
        indexes (immutable) so that each is downloaded once."""
        return FsspecObjectStore(self, "objects", pack_threshold=pack_threshold, pack_max_bytes=pack_max_bytes,
                                 index_cache_dir=cache_dir, jobs=jobs)

    def corrupt(self, message: str, hint: str) -> RemoteError:
        return RemoteError(message, hint)

    # -- identity

    def check_marker(self, create: bool) -> bool:
        """Whether the remote holds an mmvc repository; ``create`` (a push) writes the marker when
        it does not, or raises an older one to this format before anything is uploaded. A marker
        of a newer format is refused."""
        data = self.cat(MARKER)
        if data is None:
            if create:
                self.put(MARKER, marker_bytes())
            return False
        try:
            fmt = json.loads(data).get("format", 0)
        except ValueError:
            raise RemoteError(f"remote {self.name}: {MARKER} is not valid JSON", "the URL does not point at an mmvc remote") from None
        if not isinstance(fmt, int) or fmt > REMOTE_FORMAT:
            raise NewerFormatError(f"remote {self.name}", fmt, REMOTE_FORMAT)
        if create and fmt < REMOTE_FORMAT:
            self.put(MARKER, marker_bytes())
        return True

    def require_repository(self) -> None:
        if not self.check_marker(create=False):
            raise RemoteError(f"{self.spec.url} holds no mmvc repository (no {MARKER})",
                              "check the URL, or push to it first with `mmvc push`")
