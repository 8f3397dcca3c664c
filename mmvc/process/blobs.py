"""Where the decode stage's workers get the bytes of the blobs they judge.

Three sources, chosen by the driver (``plan_blobs``) and named to each worker by a small,
secret-free description (``BlobSource.worker_spec``):

* ``local``: the repository's own object store, opened by path. Only where the workers share the
  driver's disk: in the driver itself and in Ray local mode.
* ``remote``: on a cluster, a remote the workers can open (``[process] objects_from``, by default
  the repository's upstream remote unless it is a local folder; or any fsspec URL). The staged
  blobs are first uploaded there the way ``push`` sends them (content-addressed, so a rerun sends
  nothing twice; small ones in packs), and each input row carries where its blob lies; workers
  read packed blobs by ranged GETs, neighbours merged, every blob checked against its id.
  Credentials are never part of the description: the driver's variables for the remote's
  filesystem (``AWS_*``, ``GOOGLE_*``, ``AZURE_*``) reach the workers through the job's
  ``runtime_env`` (``[process] forward_credentials = false`` leaves them to the cluster's own
  IAM), and ``storage_options`` that hold secrets stay with the driver.
* ``ray``: on a cluster with no such remote, the driver reads the blobs and ships their bytes
  through Ray's object store with the input rows, in batches of at most ``INLINE_BATCH_BYTES``.

A blob a worker cannot get (unreachable remote, refused credentials, missing or corrupt
object) is an error of the run, never a verdict on the item: the worker returns an ``error``
row carrying the typed error, and the driver raises it (``raise_worker_error``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from mmvc.errors import BadInputError, MmvcError, StorageError

INLINE_BATCH_BYTES = 256 << 20  # blob bytes the driver holds (and Ray carries) per batch
ERROR_STATUS = "error"  # a prep row that is not a verdict: the worker could not get the blob
_CREDENTIAL_ENV = {"s3": ("AWS_",), "s3a": ("AWS_",), "gs": ("GOOGLE_", "GCS_"), "gcs": ("GOOGLE_", "GCS_"),
                   "az": ("AZURE_",), "abfs": ("AZURE_",), "abfss": ("AZURE_",)}
_SECRET_OPTIONS = {"key", "secret", "token", "password", "access_key", "secret_key", "session_token", "account_key",
                   "sas_token", "client_secret", "credentials", "connection_string", "aws_access_key_id",
                   "aws_secret_access_key", "aws_session_token"}


@dataclass
class BlobSource:
    kind: str  # local | remote | ray
    worker_spec: dict  # what a worker opens; never a secret
    remote: str = ""  # the remote's name (or URL) for kind "remote"
    env: dict = field(default_factory=dict)  # variables the workers get through the job's runtime_env

    def describe(self) -> str:
        return {"local": "the repository's store", "ray": "Ray's object store"}.get(self.kind, f"remote {self.remote}")


def plan_blobs(repo, cfg) -> BlobSource:
    """Where workers read blobs for this run: ``local`` without a cluster, else a remote the
    workers can open, else Ray's object store."""
    if not cfg.ray_address:
        return BlobSource("local", {"kind": "local", "root": repo.store.root})
    spec = _objects_remote(repo, cfg.objects_from)
    if spec is None:
        return BlobSource("ray", {"kind": "ray"})
    opts = spec.options()
    kept = {k: v for k, v in opts.items() if k.lower() not in _SECRET_OPTIONS}
    env = {}
    if cfg.forward_credentials:
        prefixes = _CREDENTIAL_ENV.get(spec.url.split("://", 1)[0], ())
        env = {k: v for k, v in os.environ.items() if prefixes and k.startswith(prefixes)}
    return BlobSource("remote", {"kind": "remote", "name": spec.name, "url": spec.url, "options": kept,
                                 "held_back": sorted(set(opts) - set(kept))}, remote=spec.name, env=env)


def _objects_remote(repo, objects_from: str | None):
    """The remote named by ``[process] objects_from`` (a remote's name or an fsspec URL;
    ``ray``: none); unset, the upstream remote (origin, or the only one) unless it is a local
    folder, which the workers of a cluster cannot be assumed to see."""
    from mmvc.services.remotes import RemoteSpec, get_spec, normalise_url, remote_specs

    if objects_from == "ray":
        return None
    if objects_from:
        specs = remote_specs(repo)
        if objects_from in specs:
            return specs[objects_from]
        if "://" not in objects_from:
            known = ", ".join(sorted(specs)) or "none"
            raise BadInputError(f"[process] objects_from names no remote: {objects_from!r} (known: {known})",
                                "name a remote, give an fsspec URL such as s3://bucket/prefix, or \"ray\" to ship bytes through Ray")
        return RemoteSpec(name=objects_from, url=normalise_url(objects_from))
    if not remote_specs(repo):
        return None
    try:
        spec = get_spec(repo, None)
    except BadInputError:  # several remotes, none named origin: nothing to default to
        return None
    return None if normalise_url(spec.url).startswith("file://") else spec


def upload(repo, source: BlobSource, oids: list[str], progress=None) -> dict[str, str]:
    """Send the blobs ``oids`` to the source's remote (what it holds already is skipped), as
    ``push`` does; returns where each lies there, the ``loc`` a worker reads it by."""
    from mmvc.core.fsspec_store import PACK_TARGET_BYTES
    from mmvc.remote.transport import Remote
    from mmvc.services.remotes import RemoteSpec, pack_cache_dir

    w = source.worker_spec
    spec = RemoteSpec(name=w["name"], url=w["url"], storage_options=dict(_driver_options(repo, w)))
    r = Remote(spec)
    r.check_marker(create=True)
    objects = r.objects(cache_dir=pack_cache_dir(repo, spec.name) if spec.name != spec.url else None,
                        pack_max_bytes=PACK_TARGET_BYTES)
    threshold = repo.config.pack_threshold
    sizes = {o: repo.store.size(o) for o in oids}
    large = {o for o, n in sizes.items() if n > threshold}
    there = objects.has_many(oids, loose=large)
    objects.send_from(repo.store, [o for o in oids if o not in large and o not in there],
                      [o for o in oids if o in large and o not in there], progress)
    return {o: json.dumps(objects.location(o)) for o in oids}


def _driver_options(repo, worker_spec: dict) -> dict:
    """The remote's full storage options, secrets included: the driver's own, never sent."""
    from mmvc.services.remotes import remote_specs

    spec = remote_specs(repo).get(worker_spec["name"])
    return spec.options() if spec is not None else dict(worker_spec["options"])


class BlobReader:
    """A worker's view of a source: ``read(batch)`` gives {oid: bytes} for the batch's rows."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.kind = spec["kind"]
        if self.kind == "local":
            from mmvc.core.store import LocalObjectStore

            self.store = LocalObjectStore(spec["root"])
        elif self.kind == "remote":
            from mmvc.remote.transport import Remote
            from mmvc.services.remotes import RemoteSpec

            self.remote = Remote(RemoteSpec(name=spec["name"], url=spec["url"], storage_options=spec["options"]))
            self.objects = self.remote.objects()

    def read(self, batch, wanted) -> dict[str, bytes]:
        """The bytes of the ``wanted`` rows' blobs (indexes into ``batch``)."""
        oids = [str(batch["oid"][i]) for i in wanted]
        if self.kind == "local":
            return {o: self.store.get(o) for o in oids}
        if self.kind == "ray":
            return {o: bytes(batch["data"][i]) for o, i in zip(oids, wanted)}
        locs = {o: _loc(batch["loc"][i]) for o, i in zip(oids, wanted)}
        try:
            return self.objects.read_located(locs)
        except MmvcError as e:
            if "refused the credentials" in e.message:
                held = self.spec.get("held_back")
                e.message = "the Ray workers' " + e.message
                e.hint = ("give the workers credentials: set them in mmvc's environment (AWS_*, GOOGLE_*, AZURE_*: forwarded to the "
                          "workers unless [process] forward_credentials = false) or give the cluster's nodes an IAM role"
                          + (f"; storage_options {', '.join(held)} never leave this machine" if held else ""))
            raise


def _loc(value) -> str | tuple[str, int, int]:
    v = json.loads(value)
    return v if isinstance(v, str) else (v[0], int(v[1]), int(v[2]))


def error_row(e: BaseException) -> dict:
    """The prep row a worker returns for a blob it could not get: the error, typed."""
    if not isinstance(e, MmvcError):
        e = StorageError(f"{type(e).__name__}: {e}", "see .mmvc/process/ray.log")
    return {"status": ERROR_STATUS, "reason": type(e).__name__, "detail": e.message, "stage": e.hint or ""}


def raise_worker_error(row: dict, where: str) -> None:
    """Raise in the driver the error a worker met getting a blob (an ``error`` prep row)."""
    import mmvc.errors as errors

    cls = getattr(errors, str(row.get("reason")), None)
    if not (isinstance(cls, type) and issubclass(cls, MmvcError)) or cls is errors.ObjectNotFound or cls is errors.NewerFormatError:
        cls = errors.CorruptError if row.get("reason") in ("ObjectNotFound", "NewerFormatError") else StorageError
    err = cls.__new__(cls)
    detail = str(row.get("detail") or "").strip().splitlines()
    MmvcError.__init__(err, f"a worker could not read blob {row.get('oid')} from {where}: {detail[0] if detail else '?'}",
                       row.get("stage") or None)
    raise err
