"""Ray Data wiring of the process stages, and the verdict every staged item ends with.

Per-blob work (decode + validate + gates + fingerprints, and each embedding family) runs on
the blobs that the feature cache does not already hold, deduplicated by blob id so identical
files are decoded once. Each stage is a list of ``Step``s (a class UDF and its batch size) that
one of two engines runs: Ray Data, or, when the uncached work is small (``[process]
in_process_max``) and no cluster or GPU is asked for, the driver itself, calling the very same
UDFs on the same numpy batches, so verdicts do not depend on the engine and a one-caption change
does not pay for starting Ray. Set-wide work (exact, near-exact and semantic dedup) runs in the
driver on the cached features; it is cheap next to decoding and embedding and must see the
whole staged set at once.

CPU decoding and GPU embedding are separate Ray stages, so GPUs never wait on decode; item-level
failures are caught inside the UDFs and become rejections with a reason, not job failures.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mmvc.core.families import BY_NAME as FAMILY_BY_NAME
from mmvc.core.modality import AUDIO, IMAGE, OTHER, TEXT, VIDEO, modality_name

_U64 = (1 << 64) - 1


@dataclass
class ItemRef:
    key: str
    oid: str
    modality: int
    size: int
    meta: dict = field(default_factory=dict)
    mtime_ns: int = 0  # the file's modification time when staged (the keep policy "oldest")


@dataclass
class Verdict:
    key: str
    oid: str
    modality: int
    size: int
    status: str = "passed"  # passed | duplicate | rejected
    stage: str | None = None
    reason: str | None = None
    duplicate_of: str | None = None
    detail: str = ""
    features: dict = field(default_factory=dict)
    text_vector: object = None
    clip_vector: object = None
    kept: str = ""  # a duplicate: why its duplicate_of was kept instead; a survivor: whom it was kept over
    kept_over: list = field(default_factory=list)


@dataclass
class RunStats:
    items: int = 0
    decoded: int = 0  # blobs decoded this run (the rest came from the cache)
    embedded_text: int = 0
    embedded_clip: int = 0
    ray_started: bool = False
    engine: str = "none"  # none (everything cached) | in-process | ray
    address: str = ""  # the Ray cluster's address, when the run used one
    nodes: int = 1  # the cluster's live nodes when the run joined it
    blobs: str = "local"  # where the decode workers read blobs: local | remote | ray
    stages: dict = field(default_factory=dict)  # user stage name -> {"cached": n, "computed": n} blobs
    seconds: dict = field(default_factory=dict)


@dataclass
class Step:
    """One map over batches of a stage: a class UDF built once per worker (or once in the driver)
    and called on numpy batches of ``batch_size`` rows. ``pool`` says where Ray runs it: "cpu",
    an actor per core; "model", one actor holding the model (and the GPUs, when asked for)."""

    udf: type
    kwargs: dict
    batch_size: int
    pool: str = "cpu"


Progress = Callable[[str, int, int], None]  # stage, done, total

# Each Ray worker may be restarted, and its batch retried, this many times before the batch is
# split to find the item that kills it (Ray's own default, retry forever, would hang the run).
_RETRIES = {"max_restarts": 2, "max_task_retries": 2}

# Fault injection for tests: "STAGE:KEY_SUBSTRING[:once:MARKER_FILE]" makes the worker of that
# stage (decode, embed) exit abruptly on a batch holding that item, as a segfault or the OOM
# killer would; with "once", only until MARKER_FILE exists; with "node" instead of "once", it
# takes its node down with it (kills the raylet that started it), as a lost machine would.
FAILPOINT_ENV = "MMVC_FAILPOINT"


def _failpoint(spec: str | None, stage: str, keys) -> None:
    if not spec:
        return
    parts = spec.split(":")
    if parts[0] != stage or not any(parts[1] in str(k) for k in keys):
        return
    if len(parts) >= 4 and parts[2] in ("once", "node"):
        if os.path.exists(parts[3]):
            return
        open(parts[3], "w").close()
        if parts[2] == "node":
            import signal

            os.kill(os.getppid(), signal.SIGKILL)
    os._exit(70)


def _Failing(udf):
    """``udf`` with the test failpoint of the embed stage in front of it."""

    class Failing(udf):
        def __init__(self, failpoint: str | None = None, **kw):
            self._failpoint_spec = failpoint
            super().__init__(**kw)

        def __call__(self, batch):
            _failpoint(self._failpoint_spec, "embed", batch["oid"])
            return super().__call__(batch)

    Failing.__name__ = Failing.__qualname__ = udf.__name__
    return Failing


def _prep_schema():
    import pyarrow as pa

    s, i64 = pa.string(), pa.int64()
    return pa.schema([("oid", s), ("status", s), ("reason", s), ("stage", s), ("detail", s), ("features", s), ("text", s),
                      ("phash", i64), ("video_sig", pa.list_(i64)), ("audio_fp", pa.list_(i64)), ("thumb", pa.binary()),
                      ("keyframes", pa.list_(pa.binary()))])


def _object_store_bytes() -> int:
    """Ray local mode's shared-memory store: a fifth of the machine's memory, at least 256 MiB
    and at most 16 GiB (Ray's own default, 30%, is a lot to take on a laptop; on a GPU host the
    batches of pictures in flight to the model need a few GiB)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 0
    return int(min(max(total // 5, 256 << 20), 16 << 30))


def _dataset(ray, rows: list[dict], blocks: int):
    """``rows`` as a Ray dataset of ``blocks`` Arrow blocks: one table built in C and sliced
    (one schema for every block), instead of ``from_items`` pickling row by row in the driver,
    which cost more than the model itself once the rows carry pictures."""
    import pyarrow as pa

    table = pa.Table.from_pylist(rows)
    step = -(-len(rows) // blocks)
    return ray.data.from_arrow([table.slice(i, step) for i in range(0, len(rows), step)])


def _object_array(values: list):
    import numpy as np

    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):  # element by element: a list value stays one cell
        out[i] = v
    return out


def _numpy_batch(rows: list[dict]) -> dict:
    """``rows`` as the dict of numpy columns a UDF receives from Ray's numpy batch format."""
    import numpy as np

    out = {}
    for c in rows[0]:
        values = [r[c] for r in rows]
        out[c] = np.asarray(values) if all(type(v) is int for v in values) else _object_array(values)
    return out


def _output_rows(batch: dict, column: str) -> list[dict]:
    return [{"oid": str(o), column: v} for o, v in zip(batch["oid"], batch[column])]


def _worker_death_errors(ray) -> tuple:
    ex = ray.exceptions
    names = ("ActorDiedError", "ActorUnavailableError", "WorkerCrashedError", "NodeDiedError", "OutOfMemoryError",
             "ObjectLostError", "OwnerDiedError", "LocalRayletDiedError", "RayActorError")
    return tuple(getattr(ex, n) for n in names if isinstance(getattr(ex, n, None), type))


def _signed(u: int | None) -> int | None:
    return None if u is None else (u - (1 << 64) if u >= 1 << 63 else u)


def _unsigned(s: int | None) -> int | None:
    return None if s is None else s & _U64


def _png(rgb) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def cached_pixels(data: bytes):
    """A thumbnail or keyframe the prep stage cached (PNG) as RGB pixels (dedup tiers' and user
    stages' ``pixels``)."""
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _blank_row(oid: str) -> dict[str, Any]:
    return {"oid": oid, "status": "ok", "reason": None, "stage": None, "detail": "", "features": "{}", "text": None,
            "phash": None, "video_sig": None, "audio_fp": None, "thumb": None, "keyframes": None}


def prep_one(store, gate_cfg, oid: str, modality: int, key: str, meta: dict, size: int = 0) -> dict:
    """Decode, validate, gate and fingerprint one blob: the per-blob CPU stage. ``store``: what
    ``get(oid)`` gives the blob's bytes from (a store, or the bytes of a batch by id). An
    ``other`` item is judged on its size and extension alone: its bytes are never read here."""
    from mmvc.process.decode import DEFAULT_MAX_PIXELS, decode_item, describe_other
    from mmvc.process.gates import check
    from mmvc.process.neardup import audio_fingerprint, phash, video_signature

    row = _blank_row(oid)
    try:
        if modality == OTHER:
            d = describe_other(size, key)
        else:
            d = decode_item(store.get(oid), modality, key, meta, max_pixels=getattr(gate_cfg.image, "max_pixels", None) or DEFAULT_MAX_PIXELS)
        row["features"] = json.dumps(d.features, sort_keys=True, default=str)
        row["detail"] = d.detail or ""
        if d.status != "ok":
            row.update(status="rejected", reason=d.reason, stage="decode")
            return row
        reason, detail = check(d, modality, gate_cfg)
        if reason:
            row.update(status="rejected", reason=reason, stage="gates", detail=detail)
            return row
        row["text"] = d.text
        if d.thumb is not None:
            row["phash"] = _signed(phash(d.thumb))
            row["thumb"] = _png(d.thumb)
        if d.keyframes:
            row["video_sig"] = [_signed(h) for h in video_signature(d.keyframes)]
            row["keyframes"] = [_png(k) for k in d.keyframes]
        if d.audio is not None and len(d.audio):
            row["audio_fp"] = [_signed(int(h)) for h in audio_fingerprint(d.audio)]
    except Exception as e:  # an item-level failure is a verdict, never a job failure
        row.update(status="rejected", reason="decode_error", stage="decode", detail=f"{type(e).__name__}: {e}")
    return row


class PrepUDF:
    """Ray class UDF: opens the blob source (``mmvc.process.blobs``: the local store, a remote,
    or bytes that came with the batch) and the gate config once per actor. A batch whose blobs
    cannot be had comes back as ``error`` rows, which stop the run in the driver."""

    def __init__(self, blobs: dict, gates_table: dict, failpoint: str | None = None):
        from mmvc.process.blobs import BlobReader
        from mmvc.process.gates import GateConfig

        self.blobs = BlobReader(blobs)
        self.gates = GateConfig.from_toml(gates_table)
        self.failpoint = failpoint

    def __call__(self, batch):
        import pyarrow as pa

        from mmvc.process.blobs import error_row

        _failpoint(self.failpoint, "decode", batch["key"])
        try:
            data = self.blobs.read(batch, range(len(batch["oid"])))
        except Exception as e:  # the machine's failure, not the items': the driver stops the run
            err = error_row(e)
            rows = [{**_blank_row(str(oid)), **err} for oid in batch["oid"]]
        else:
            rows = [prep_one(data, self.gates, str(oid), int(m), k, json.loads(meta) if meta else {}, int(n))
                    for oid, m, k, meta, n in zip(batch["oid"], batch["modality"], batch["key"], batch["meta"], batch["size"])]
        # An explicit schema: left to infer, a block of texts gets a null-typed hash column that
        # a block of images cannot be concatenated with, and pandas would carry 64-bit hashes
        # through float64 and lose their low bits.
        return pa.Table.from_pylist(rows, schema=_prep_schema())


class ClipFromPngUDF:
    """Feeds the CLIP family's UDF the thumbnails and keyframes the prep stage cached as PNG."""

    def __init__(self, **kw):
        from mmvc.process.udfs import ClipEmbedUDF

        self.inner = ClipEmbedUDF(**kw)

    def __call__(self, batch):
        import numpy as np

        thumbs = np.empty(len(batch["oid"]), dtype=object)
        frames = np.empty(len(batch["oid"]), dtype=object)
        for i, (t, k) in enumerate(zip(batch["thumb"], batch["keyframes"])):
            # Ray hands missing values over as None or NaN, lists as lists or arrays
            thumbs[i] = cached_pixels(t) if isinstance(t, (bytes, bytearray)) else None
            frames[i] = [cached_pixels(x) for x in k] if isinstance(k, (list, tuple, np.ndarray)) and len(k) else None
        out = self.inner({"oid": batch["oid"], "thumb": thumbs, "keyframes": frames})
        return {"oid": np.asarray(batch["oid"]), "clip_vector": out["clip_vector"]}


class Pipeline:
    def __init__(self, repo, cfg, progress: Progress | None = None, jobs: int | None = None, history=None):
        """``history``: the dedup index (``mmvc.process.dedupfeatures.History``) that staged items
        are compared with; None, the feature cache's rows for HEAD's items (what this clone
        processed itself)."""
        self.repo = repo
        self.cfg = cfg
        self.history = history
        self.progress = progress or (lambda *a: None)
        self.jobs = jobs or cfg.num_cpus or os.cpu_count() or 1
        self.stats = RunStats()
        self._ray = None
        self._owns_ray = False
        self._blobs = None
        self.embed_failures: dict[str, str] = {}  # oid -> why its embedding could not be computed

    # -- ray

    def _ray_ctx(self):
        if self._ray is None:
            import logging

            import ray
            import ray.data

            # after importing ray.data, which sets its own logger up (to DEBUG, with a console handler)
            for name in ("ray", "ray.data", "ray._private"):
                logging.getLogger(name).setLevel(logging.ERROR)

            if not ray.is_initialized():
                self._owns_ray = not self.cfg.ray_address
                kw = dict(ignore_reinit_error=True, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
                if self.cfg.ray_address:
                    self._join_cluster(ray, kw)
                else:
                    ray.init(num_cpus=self.jobs, num_gpus=max(self.cfg.num_gpus, 0) or None, object_store_memory=_object_store_bytes(), **kw)
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars = False
            ctx.print_on_execution_start = False
            self._ray = ray
            self.stats.ray_started = True
        return self._ray

    def _join_cluster(self, ray, kw: dict) -> None:
        """Connect to the cluster at ``ray_address``, its workers given the blob source's
        variables (credentials) through the job's runtime_env; size the CPU pools to the cluster."""
        from mmvc.errors import ClusterError

        address = self.cfg.ray_address
        _check_reachable(address)
        env = self.blobs().env
        try:
            ray.init(address=address, runtime_env={"env_vars": env} if env else None, **kw)
        except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as e:
            raise ClusterError(f"cannot join the Ray cluster at {address}: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
                               _CLUSTER_HINT) from None
        self.stats.address = address
        self.stats.nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < 1:
            raise ClusterError(f"the Ray cluster at {address} has no CPUs to run on", "add worker nodes with CPUs (`ray start --address …`)")
        self.jobs = cpus

    def blobs(self):
        """Where this run's decode workers get blob bytes (``mmvc.process.blobs``)."""
        if self._blobs is None:
            from mmvc.process.blobs import plan_blobs

            self._blobs = plan_blobs(self.repo, self.cfg)
            self.stats.blobs = self._blobs.kind
        return self._blobs

    def shutdown(self) -> None:
        """Stop the Ray this run started (one a caller started, or a cluster, is left alone)."""
        if self._ray is not None and self._owns_ray:
            self._ray.shutdown()
        self._ray = None

    def _cpu_pool(self, ray, rows: int, batch: int):
        """An actor pool of as many CPU workers as there are cores and batches to give them
        (one core fewer when a GPU actor, which also holds a core, follows)."""
        cores = self.jobs - 1 if self.cfg.num_gpus and self.jobs > 2 else self.jobs
        n = max(1, min(cores, -(-rows // batch)))
        return ray.data.ActorPoolStrategy(min_size=1, max_size=n, initial_size=n)

    def _in_process(self, todo: int) -> bool:
        """Small uncached work runs in the driver: starting Ray costs more than the work itself.
        A cluster, GPUs or the worker-death failpoint (deaths only exist with workers) ask for
        Ray, and a run that has started Ray keeps it for its later stages."""
        return (self._ray is None and todo <= self.cfg.in_process_max and not self.cfg.ray_address
                and not self.cfg.num_gpus and not os.environ.get(FAILPOINT_ENV))

    def _run_stage(self, stage: str, inputs: list[dict], steps: list[Step], column: str | None = None, attach=None):
        """Run one stage's steps over ``inputs`` (dicts with an "oid"): (finished rows, {oid: why}
        for the rows that kept killing their worker). ``column``: the output column an embedding
        stage yields per row; None, whole rows (the prep stage's Arrow rows)."""
        if self._in_process(len(inputs)):
            self.stats.engine = "in-process"
            return self._run_in_process(stage, inputs, steps, column), {}
        self.stats.engine = "ray"
        return self._run_on_ray(stage, inputs, steps, column, attach)

    def _run_in_process(self, stage: str, inputs: list[dict], steps: list[Step], column: str | None) -> list[dict]:
        """The steps' UDFs built once here and called on the numpy batches Ray would hand them."""
        udfs = [s.udf(**s.kwargs) for s in steps]
        size = steps[0].batch_size
        done: list[dict] = []
        self.progress(stage, 0, len(inputs))
        for start in range(0, len(inputs), size):
            batch = _numpy_batch(inputs[start:start + size])
            for udf in udfs:
                if not isinstance(batch, dict):  # an Arrow table handed on to a further step
                    batch = {c: _object_array(batch.column(c).to_pylist()) for c in batch.column_names}
                batch = udf(batch)
            done += batch.to_pylist() if column is None else _output_rows(batch, column)
            self.progress(stage, len(done), len(inputs))
        return done

    def _ray_steps(self, ray, ds, steps: list[Step], rows: int):
        gpu = {"num_gpus": self.cfg.num_gpus, "num_cpus": 1} if self.cfg.num_gpus else {}
        for s in steps:
            # on a cluster without GPUs one model actor would leave every other node idle: the
            # model then loads once per core, like the CPU steps' workers
            if s.pool == "model" and (self.cfg.num_gpus or not self.stats.address):
                where = {"compute": ray.data.ActorPoolStrategy(size=1), **gpu}
            else:
                where = {"compute": self._cpu_pool(ray, rows, s.batch_size), "num_cpus": 1}
            ds = ds.map_batches(s.udf, fn_constructor_kwargs=s.kwargs, batch_size=s.batch_size, batch_format="numpy",
                                **where, **_RETRIES)
        return ds

    def _run_on_ray(self, stage: str, inputs: list[dict], steps: list[Step], column: str | None, attach=None):
        """Ray restarts a worker that dies mid-batch and retries its batch (a bounded number of
        times, ``_RETRIES``). A batch that still cannot finish is split in halves and each half
        run again, down to single rows, so one poisonous input (a decoder crash, a model that runs
        out of memory on it) becomes that item's verdict instead of the whole run's failure.
        Many such rows at once is not an item problem: the run stops and says so.

        ``attach``: what adds the blob bytes to a chunk's rows just before it is handed to Ray;
        the inputs then go in chunks of bounded bytes, so the driver never holds them all."""
        ray = self._ray_ctx()
        died_errors = _worker_death_errors(ray)
        done: dict[str, dict] = {}
        died: dict[str, str] = {}
        pending = _byte_bounded(inputs)[::-1] if attach else [inputs]
        total = len(inputs)
        self.progress(stage, 0, total)
        while pending:
            chunk = [r for r in pending.pop() if r["oid"] not in done]
            if not chunk:
                continue
            ds = _dataset(ray, attach(chunk) if attach else chunk, min(max(len(chunk) // 64, 1), 4 * self.jobs))
            try:
                with warnings.catch_warnings():
                    # Bounded restarts can only be asked for as ray_remote_args (deprecated, no named
                    # parameter yet in Ray 2.60); Ray Data's default is to retry a dying actor forever.
                    warnings.filterwarnings("ignore", message=".*ray_remote_args. is deprecated")
                    staged = self._ray_steps(ray, ds, steps, len(chunk))
                for batch in staged.iter_batches(batch_format="pyarrow" if column is None else "numpy", batch_size=None):
                    for r in batch.to_pylist() if column is None else _output_rows(batch, column):
                        done[str(r["oid"])] = r
                    self.progress(stage, len(done) + len(died), total)
            except died_errors as e:
                self._check_nodes(stage)
                left = [r for r in chunk if r["oid"] not in done]
                if len(left) == 1:
                    died[left[0]["oid"]] = f"the {stage} worker died on this item ({type(e).__name__}); see .mmvc/process/ray.log"
                    if len(died) > max(3, total // 100):
                        from mmvc.errors import StorageError

                        raise StorageError(f"Ray workers of the {stage} stage keep dying ({len(died)} items so far): "
                                           "this looks like the machine, not the items",
                                           "check memory (dmesg for the OOM killer) and .mmvc/process/ray.log; nothing was recorded") from None
                elif left:
                    half = len(left) // 2
                    pending += [left[half:], left[:half]]
        return list(done.values()), died

    def _check_nodes(self, stage: str) -> None:
        """On a cluster, a worker that died with its node is no verdict on the item it held: when
        the cluster has lost nodes since the run joined it, the run stops (Ray has already
        rescheduled what it could onto the nodes left, and failed)."""
        if not self.stats.address:
            return
        from mmvc.errors import ClusterError

        alive = sum(1 for n in self._ray.nodes() if n.get("Alive"))
        if alive < self.stats.nodes:
            raise ClusterError(f"the Ray cluster at {self.stats.address} lost {self.stats.nodes - alive} of its {self.stats.nodes} "
                               f"nodes during the {stage} stage", "check the cluster (`ray status`) and run `mmvc process` again; "
                               "nothing was recorded, features already computed stay cached")

    # -- stages

    def _prep(self, items: list[ItemRef]) -> dict[str, dict]:
        from mmvc.process.cache import PREP, FeatureCache

        items = [it for it in items if it.modality != OTHER]  # judged by name and size: see _other_row
        cache = FeatureCache(self.repo, PREP, self.cfg.describe())
        rows = cache.load({it.oid for it in items})
        todo = {}
        for it in items:
            if it.oid not in rows and it.oid not in todo:
                todo[it.oid] = it
        total = len(todo)
        self.progress("decode", 0, total)
        if todo:
            from mmvc.process.blobs import ERROR_STATUS, raise_worker_error, upload

            gates_table = {k: v for k, v in self.repo.config.raw.get("process", {}).get("gates", {}).items()
                           if k not in {s.name for s in self.cfg.stages}}  # a user stage's table holds its reject_if
            source = self.blobs()
            kwargs = {"blobs": source.worker_spec, "gates_table": gates_table, "failpoint": os.environ.get(FAILPOINT_ENV)}
            inputs = [{"oid": it.oid, "modality": it.modality, "key": it.key, "meta": json.dumps(it.meta) if it.meta else "",
                       "size": it.size} for it in todo.values()]
            attach = None
            if source.kind == "remote":
                self.progress("upload", 0, len(todo))
                locs = upload(self.repo, source, list(todo), lambda done, _b, total, _tb: self.progress("upload", done, total))
                for r in inputs:
                    r["loc"] = locs[r["oid"]]
            elif source.kind == "ray":
                store = self.repo.store
                attach = lambda rows: [{**r, "data": store.get(r["oid"])} for r in rows]  # noqa: E731
            done, died = self._run_stage("decode", inputs, [Step(PrepUDF, kwargs, 32)], attach=attach)
            for r in done:
                if r.get("status") == ERROR_STATUS:
                    raise_worker_error(r, source.describe())
            new = [_clean_row(r) for r in done]
            cache.store(new)  # a worker's death is the machine's verdict, not the item's: never cached
            for oid, detail in died.items():
                new.append({"oid": oid, "status": "rejected", "reason": "worker_died", "stage": "decode", "features": "{}",
                            "detail": detail, "text": None, "phash": None, "video_sig": None, "audio_fp": None, "thumb": None,
                            "keyframes": None})
            for r in new:
                rows[r["oid"]] = r
            self.stats.decoded = len(new)
        return rows

    def _embed(self, family: str, wanted: list[tuple[str, dict]]) -> dict[str, object]:
        """Vectors for (oid, input row) pairs of one family, cached by (blob, model config)."""
        from mmvc.process.cache import FeatureCache

        dim = FAMILY_BY_NAME[family].width
        cache = FeatureCache(self.repo, FAMILY_BY_NAME[family].stage, self.cfg.describe())
        have = cache.load({oid for oid, _ in wanted})
        vectors = {oid: r["vector"] for oid, r in have.items()}
        todo = {}
        for oid, row in wanted:
            if oid not in vectors and oid not in todo:
                todo[oid] = row
        self.progress(f"embed {family}", 0, len(todo))
        if not todo:
            return vectors
        from mmvc.process.models import resolve_model

        gpu = bool(self.cfg.num_gpus)
        bs = self.cfg.batch_size
        # On a GPU the host work (tokenising; decoding and cropping pictures) would starve the
        # model, so it gets CPU workers of its own ahead of the GPU actor, and the actor is handed
        # several model batches per call. CPU steps take every core from the start (an autoscaling
        # pool that starts at one worker was seen to stay there, starving the GPU actor).
        model_kw = {"batch_size": bs, "device": "cuda" if gpu else "cpu", "dtype": self.cfg.embed_dtype(),
                    "failpoint": os.environ.get(FAILPOINT_ENV)}
        rows_per_call = bs * 8 if gpu else bs
        if family == "text":
            from mmvc.process.udfs import TextEmbedUDF, TextTokenizeUDF

            path = resolve_model(self.cfg.text_model, "text")
            inputs = [{"oid": oid, "text": r["text"]} for oid, r in todo.items()]
            host = [Step(TextTokenizeUDF, {"model": path}, bs)] if gpu else []
            steps = host + [Step(_Failing(TextEmbedUDF), {"model": path, **model_kw}, rows_per_call, pool="model")]
            col = "text_vector"
        else:
            from mmvc.process.udfs import ClipEmbedUDF, ClipPixelsUDF

            path = resolve_model(self.cfg.image_model_id(), "clip")
            inputs = [{"oid": oid, "thumb": r.get("thumb"), "keyframes": r.get("keyframes")} for oid, r in todo.items()]
            host = [Step(ClipPixelsUDF, {"model": path}, bs)] if gpu else []
            steps = host + [Step(_Failing(ClipEmbedUDF if gpu else ClipFromPngUDF), {"model": path, **model_kw}, rows_per_call, pool="model")]
            col = "clip_vector"
        import numpy as np

        t = time.perf_counter()
        done, died = self._run_stage(f"embed {family}", inputs, steps, column=col)
        self.stats.seconds[f"embed {family}"] = time.perf_counter() - t
        new: list[dict[str, Any]] = []
        for r in done:
            vec = np.asarray(r[col], dtype=np.float32)
            new.append({"oid": str(r["oid"]), "vector": None if not np.isfinite(vec).all() else vec})
        cache.store(new, vector_columns={"vector": dim})
        self.embed_failures.update(died)
        for r in new:
            vectors[r["oid"]] = r["vector"]
        if family == "text":
            self.stats.embedded_text = len(new)
        else:
            self.stats.embedded_clip = len(new)
        return vectors

    # -- the run

    def run(self, items: list[ItemRef], head_paths_by_oid: Callable[[], dict[str, tuple[str, int]]]) -> list[Verdict]:
        from mmvc.process.keep import KeepPolicy

        cfg = self.cfg
        t0 = time.perf_counter()
        items = sorted(items, key=lambda it: it.key)
        verdicts = {it.key: Verdict(it.key, it.oid, it.modality, it.size) for it in items}
        self.keep = KeepPolicy(cfg.keep)
        self._items = {it.key: it for it in items}
        quiet = _RayChatterToFile(self.repo.layout.ray_log)
        try:
            quiet.__enter__()
            prep = self._prep(items)
            self.stats.seconds["decode"] = time.perf_counter() - t0
            alive = []
            for it in items:
                v = verdicts[it.key]
                row = prep[it.oid] if it.modality != OTHER else self._other_row(it)
                v.features = json.loads(row.get("features") or "{}")
                if row["status"] != "ok":
                    v.status, v.stage, v.reason, v.detail = "rejected", row["stage"], row["reason"], row.get("detail") or ""
                    continue
                lic = str(it.meta.get("license", "")) if it.meta else ""
                if cfg.license_deny and lic in cfg.license_deny or cfg.license_allow and lic not in cfg.license_allow:
                    v.status, v.stage, v.reason = "rejected", "license", "license_not_allowed"
                    v.detail = f"license {lic or '(none)'} is not allowed by [process.license]"
                    continue
                alive.append(it)
            if cfg.stages:  # user-defined stages: after the rule gates, before dedup
                from mmvc.process.stages import run_stages

                alive = run_stages(self, alive, prep, verdicts)

            # exact: identical blobs, against HEAD (which always keeps its item), then within the staged set
            t = time.perf_counter()
            head_items = head_paths_by_oid()
            head = {o: p for o, (p, _) in head_items.items()}
            same_bytes: dict[str, list[str]] = {}
            for it in alive:
                other = head.get(it.oid)
                if other is not None and other != it.key:
                    self._dup(verdicts[it.key], "exact", other, "same bytes as an item already in HEAD", kept="already in HEAD")
                else:
                    same_bytes.setdefault(it.oid, []).append(it.key)
            for group in same_bytes.values():
                if len(group) > 1:
                    self._settle(group, verdicts, "exact", "same bytes as another staged item")
            survivors = [it for it in alive if verdicts[it.key].status == "passed"]
            self.stats.seconds["exact"] = time.perf_counter() - t

            # near-exact, per modality
            t = time.perf_counter()
            self.progress("near-dup", 0, len(survivors))
            # Items already in HEAD take part as anchors: a group holding one keeps HEAD's item,
            # and an anchor is never judged (it crossed the gate when it entered the version).
            # (HEAD's version of a path being replaced is no anchor: an edit is not a duplicate of what it replaces)
            head = {o: p for o, p in head.items() if p not in verdicts}
            anchors = self._head_anchors(head, {o: m for o, (_, m) in head_items.items()}, survivors, prep)
            prep = {**self._anchor_rows, **prep}
            groups = near_groups([a for a, _ in anchors] + survivors, prep, cfg.neardup,
                                 distributed=self._distributed_dedup(len(anchors) + len(survivors)))
            self._near(groups, {a.key: head_key for a, head_key in anchors}, verdicts)
            survivors = [it for it in survivors if verdicts[it.key].status == "passed"]
            self.stats.seconds["near"] = time.perf_counter() - t

            # embeddings, then semantic dedup within each family (and modality, unless cross_modality)
            t = time.perf_counter()
            head_modality = {o: m for o, (_, m) in head_items.items()}
            if cfg.families.get("text", True):
                want = [(it.oid, {"text": prep[it.oid]["text"]}) for it in survivors if it.modality in FAMILY_BY_NAME["text"].modalities and prep[it.oid].get("text")]
                vecs = self._embed("text", want)
                fam = [it for it in survivors if vecs.get(it.oid) is not None]
                for it in fam:
                    verdicts[it.key].text_vector = vecs[it.oid]
                self._semantic(fam, vecs, verdicts)
                self._semantic_head("text", [it for it in fam if verdicts[it.key].status == "passed"], vecs, verdicts, head, head_modality)
            if cfg.families.get("clip", True):
                want = [(it.oid, prep[it.oid]) for it in survivors if it.modality in FAMILY_BY_NAME["clip"].modalities and (prep[it.oid].get("thumb") or prep[it.oid].get("keyframes"))]
                vecs = self._embed("clip", want)
                fam = [it for it in survivors if verdicts[it.key].status == "passed" and vecs.get(it.oid) is not None]
                for it in fam:
                    verdicts[it.key].clip_vector = vecs[it.oid]
                self._semantic(fam, vecs, verdicts)
                self._semantic_head("clip", [it for it in fam if verdicts[it.key].status == "passed"], vecs, verdicts, head, head_modality)
            for it in survivors:
                why = self.embed_failures.get(it.oid)
                if why and verdicts[it.key].status == "passed":
                    v = verdicts[it.key]
                    v.status, v.stage, v.reason, v.detail = "rejected", "embed", "worker_died", why
            self.stats.seconds["embed+semantic"] = time.perf_counter() - t
        finally:
            self.shutdown()
            quiet.__exit__()
        for v in verdicts.values():
            if v.status == "passed" and v.kept_over:
                v.kept = f"kept over {len(v.kept_over)} duplicate(s): {', '.join(sorted(v.kept_over)[:3])}" + (" …" if len(v.kept_over) > 3 else "")
        self.stats.items = len(items)
        self.stats.seconds["total"] = time.perf_counter() - t0
        return [verdicts[it.key] for it in items]

    def cross_duplicates(self, left: list[ItemRef], right: list[ItemRef]) -> list[tuple[str, str, str, str]]:
        """(left key, right key, tier, detail) for each pair of duplicates that spans the two
        sets, by every tier the run applies (exact, near, semantic), on the features the
        cache holds. Only what this repository never judged (items a fetch brought) is
        computed, once, and cached like any run's. Keys must be unique across both sets.
        Within one set nothing is compared: each side crossed the gate on its own."""
        import numpy as np

        from mmvc.process.cache import PREP, FeatureCache
        from mmvc.process.keep import member_groups
        from mmvc.process.semantic import semantic_duplicates

        cfg = self.cfg
        side = {**{it.key: 0 for it in left}, **{it.key: 1 for it in right}}
        pairs: list[tuple[str, str, str, str]] = []
        seen: set[tuple[str, str]] = set()

        def cross(group: list[str], tier: str, detail: str) -> None:
            for a in (k for k in group if side[k] == 0):
                for b in (k for k in group if side[k] == 1):
                    if (a, b) not in seen:
                        seen.add((a, b))
                        pairs.append((a, b, tier, detail))

        by_oid: dict[str, list[str]] = {}
        for it in left + right:
            by_oid.setdefault(it.oid, []).append(it.key)
        for group in by_oid.values():
            cross(group, "exact", "same bytes")
        items = [it for it in left + right if it.modality != OTHER]
        if not items:
            return pairs
        quiet = _RayChatterToFile(self.repo.layout.ray_log)
        try:
            quiet.__enter__()
            cache = FeatureCache(self.repo, PREP, cfg.describe())
            prep = cache.load({it.oid for it in items}, columns=["status", "text", "phash", "video_sig", "audio_fp"])
            missing = [it for it in items if it.oid not in prep]
            if missing:
                prep.update(self._prep(missing))
            items = [it for it in items if prep[it.oid].get("status") == "ok"]
            for group in member_groups(near_groups(items, prep, cfg.neardup)):
                cross(group, "near", "near-duplicate")
            for family, mods in ((f, FAMILY_BY_NAME[f].modalities) for f in ("text", "clip")):
                if not cfg.families.get(family, True):
                    continue
                fam = [it for it in items if it.modality in mods]
                vecs = FeatureCache(self.repo, FAMILY_BY_NAME[family].stage, cfg.describe()).load(
                    {it.oid for it in fam}, columns=["vector"])
                vecs = {o: r["vector"] for o, r in vecs.items()}
                todo = [it for it in fam if it.oid not in vecs]
                if todo:  # embedding needs what the prep stage kept for it (text, thumbnails, keyframes)
                    rows = {**prep, **cache.load({it.oid for it in todo})}  # whole rows over the fingerprint columns
                    want = [(it.oid, {"text": rows[it.oid].get("text")} if family == "text" else rows[it.oid]) for it in todo
                            if (rows[it.oid].get("text") if family == "text" else rows[it.oid].get("thumb") or rows[it.oid].get("keyframes"))]
                    vecs.update(self._embed(family, want))
                fam = [it for it in fam if vecs.get(it.oid) is not None]
                parts = [fam] if cfg.cross_modality else [[it for it in fam if it.modality == m] for m in mods]
                for part in parts:
                    if len({side[it.key] for it in part}) < 2:
                        continue
                    dups = semantic_duplicates([it.key for it in part], np.stack([vecs[it.oid] for it in part]).astype(np.float32),
                                               eps=cfg.semantic_eps)
                    for group in member_groups(dups):
                        cross(group, "semantic", f"embedding within cosine {1 - cfg.semantic_eps:.3f}")
        finally:
            self.shutdown()
            quiet.__exit__()
        return pairs

    def _other_row(self, it: ItemRef) -> dict:
        """The prep row of an ``other`` item, computed here for each item: its gates read the
        item's name (extension) as well as its size, so unlike a decoded blob's it is never cached
        by blob id."""
        return prep_one(None, self.cfg.gates, it.oid, OTHER, it.key, {}, it.size)

    def _candidate(self, key: str, verdicts: dict):
        from mmvc.process.keep import Candidate

        it = self._items[key]
        return Candidate(key, it.modality, it.size, verdicts[key].features, it.mtime_ns)

    def _settle(self, group: list[str], verdicts: dict, stage: str, detail: str) -> None:
        """One group of staged duplicates: the keep policy's choice stays, the rest are its duplicates."""
        members = [self._candidate(k, verdicts) for k in group]
        winner = self.keep.choose(members)
        for c in members:
            if c.key != winner.key:
                self._dup(verdicts[c.key], stage, winner.key, detail, kept=self.keep.reason(winner, c))
                verdicts[winner.key].kept_over.append(c.key)

    def _near(self, groups: dict[str, str], anchor_keys: dict[str, str], verdicts: dict) -> None:
        from mmvc.process.keep import member_groups

        for group in member_groups(groups):
            held = sorted(anchor_keys[k] for k in group if k in anchor_keys)
            staged = [k for k in group if k not in anchor_keys]
            if held:
                for k in staged:
                    self._dup(verdicts[k], "near", held[0], "near-duplicate of an item already in HEAD", kept="already in HEAD")
            elif len(staged) > 1:
                self._settle(staged, verdicts, "near", "near-duplicate")

    def _distributed_dedup(self, n: int) -> bool:
        """Whether the set-wide tiers run as distributed stages (``mmvc.process.distdedup``):
        on a run that uses Ray, over more items than a stage runs in the driver. Same groups
        either way (see that module), so the engine never changes a verdict."""
        return self._ray is not None and n > max(self.cfg.in_process_max, 1)

    def _semantic(self, fam: list[ItemRef], vecs: dict, verdicts: dict) -> None:
        """Groups within the radius, per modality unless ``cross_modality``; the keep policy picks each survivor."""
        import numpy as np

        from mmvc.process.keep import member_groups
        from mmvc.process.semantic import semantic_duplicates

        parts = [fam] if self.cfg.cross_modality else [[it for it in fam if it.modality == m] for m in sorted({it.modality for it in fam})]
        for part in parts:
            if len(part) < 2:
                continue
            if self._distributed_dedup(len(part)):
                from mmvc.process.distdedup import semantic_groups

                ds = _dataset(self._ray_ctx(), [{"idx": i, "vector": np.asarray(vecs[it.oid], dtype=np.float32)} for i, it in enumerate(part)],
                              4 * self.jobs)
                dups = {part[a].key: part[b].key for a, b in semantic_groups(ds, len(part), self.cfg.semantic_eps).items()}
            else:
                dups = semantic_duplicates([it.key for it in part], np.stack([vecs[it.oid] for it in part]).astype(np.float32),
                                           eps=self.cfg.semantic_eps)
            for group in member_groups(dups):
                self._settle(group, verdicts, "semantic", f"embedding within cosine {1 - self.cfg.semantic_eps:.3f}")

    def _head_anchors(self, head: dict[str, str], modality: dict[str, int], survivors: list[ItemRef],
                      prep: dict[str, dict]) -> list[tuple[ItemRef, str]]:
        """HEAD's items that can share a near-tier group with a staged one, as (anchor item, its
        HEAD key): from the dedup index, those its band keys and pHash bands lead to; without
        one, every item whose fingerprints this repository computed before (under the current
        gates), read from the feature cache. Every one of them anchors, also one whose bytes a
        staged item repeats: that staged item is an exact duplicate already, and leaving the
        anchor out let a near copy of it pass."""
        from mmvc.process.cache import PREP, FeatureCache

        self._anchor_rows: dict[str, dict] = {}
        if not head:
            return []
        if self.history is not None:
            from mmvc.process.dedupfeatures import near_anchor_rows

            rows = near_anchor_rows(self.history.scan, {it.oid: (it.modality, prep[it.oid]) for it in survivors}, head,
                                    self.cfg.neardup)
        else:
            rows = FeatureCache(self.repo, PREP, self.cfg.describe()).load(
                set(head), columns=["status", "text", "phash", "video_sig", "audio_fp"])
        out = []
        for o in sorted((o for o, r in rows.items() if r.get("status") == "ok"), key=lambda o: head[o]):
            self._anchor_rows[o] = rows[o]
            out.append((ItemRef("\0head:" + head[o], o, modality[o], 0), head[o]))
        return out

    def _semantic_head(self, family: str, fam: list[ItemRef], vecs: dict, verdicts: dict, head: dict[str, str],
                       head_modality: dict[str, int]) -> None:
        """Staged items within the semantic radius of an item already in HEAD (of their own
        modality, unless ``cross_modality``) are duplicates of it; HEAD's vectors come from the
        dedup index, or without one from the feature cache (what this repository embedded before)."""
        if not fam or not head:
            return
        import numpy as np

        staged = {it.oid for it in fam}
        radius = 1.0 - self.cfg.semantic_eps
        modalities = [None] if self.cfg.cross_modality else sorted({it.modality for it in fam})
        parts = {m: [it for it in fam if m is None or it.modality == m] for m in modalities}
        queries = {}
        for m, part in parts.items():
            q = np.stack([np.asarray(vecs[it.oid], dtype=np.float32) for it in part])
            queries[m] = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        best = {m: (np.full(len(p), -np.inf), np.full(len(p), "\U0010ffff", dtype=object)) for m, p in parts.items()}  # per query: similarity, HEAD key
        for known in self._head_vectors(family, head, head_modality, staged):
            for m in parts:
                base_rows = sorted(k for k in known if m is None or k[1] == m)
                if not base_rows:
                    continue
                base = np.stack([v for _, _, v in base_rows]).astype(np.float32)
                base /= np.maximum(np.linalg.norm(base, axis=1, keepdims=True), 1e-12)
                q, (sim, key) = queries[m], best[m]
                step = max(1, (1 << 26) // len(base))  # ~256 MiB of similarities at a time
                names = np.array([k for k, _, _ in base_rows], dtype=object)
                for start in range(0, len(q), step):
                    sims = q[start:start + step] @ base.T
                    top = sims.argmax(axis=1)
                    val, name = sims[np.arange(len(top)), top], names[top]
                    g = slice(start, start + len(top))
                    # ties go to the earlier HEAD key, whichever batch it came in
                    better = (val > sim[g]) | ((val == sim[g]) & (name < key[g]).astype(bool))
                    sim[g] = np.where(better, val, sim[g])
                    key[g] = np.where(better, name, key[g])
        for m, part in parts.items():
            sim, key = best[m]
            for i, it in enumerate(part):
                if sim[i] >= radius - 1e-6:
                    self._dup(verdicts[it.key], "semantic", key[i],
                              f"embedding within cosine {radius:.3f} of an item already in HEAD", kept="already in HEAD")

    def _head_vectors(self, family: str, head: dict[str, str], head_modality: dict[str, int], staged: set[str]):
        """Batches of (HEAD key, modality, vector) of HEAD's items of one family, staged blobs
        left out: from the dedup index a bounded batch at a time, else from the feature cache."""
        if self.history is None:
            from mmvc.process.cache import FeatureCache

            rows = FeatureCache(self.repo, FAMILY_BY_NAME[family].stage, self.cfg.describe()).load(
                {o for o in head if o not in staged}, columns=["vector"])
            yield [(head[o], head_modality[o], r["vector"]) for o, r in rows.items() if r.get("vector") is not None]
            return
        from mmvc.process.cache import vector_arrays

        column = FAMILY_BY_NAME[family].column
        for batch in self.history.scan([column]):
            col = batch.column(column)
            if col.null_count == len(col):
                continue
            oids, mods = batch.column("oid").to_pylist(), batch.column("modality").to_pylist()
            import pyarrow as pa

            vectors = vector_arrays(pa.chunked_array([col]))
            yield [(head[o], m, v) for o, m, v in zip(oids, mods, vectors) if v is not None and o in head and o not in staged]

    @staticmethod
    def _dup(v: Verdict, stage: str, of: str, detail: str, kept: str = "") -> None:
        v.status, v.stage, v.reason, v.duplicate_of, v.detail = "duplicate", stage, f"{stage}_duplicate", of, detail
        v.kept = kept


def near_groups(items: list[ItemRef], prep: dict[str, dict], cfg, distributed: bool = False) -> dict[str, str]:
    """{member: representative} of the near-exact tier over ``items``, each modality on its own
    fingerprints (prep rows by blob id): MinHash for text, pHash for pictures, keyframe hashes
    for video, landmark hashes for audio. Other items have no near tier. ``distributed``: texts
    and pictures go through the distributed stages on the running Ray (the same groups)."""
    from mmvc.process.neardup import (
        audio_groups,
        image_groups,
        near_duplicate_groups,
        video_groups,
    )

    by_mod = {m: [it for it in items if it.modality == m] for m in (TEXT, IMAGE, VIDEO, AUDIO)}
    groups: dict[str, str] = {}
    texts = [it for it in by_mod[TEXT] if _has_text(prep[it.oid].get("text"))]  # a string, or an anchor's shingle set
    if texts and distributed:
        from mmvc.process.distdedup import near_set_groups

        import ray

        rows = [{"idx": i, "text": t if isinstance(t, str) else None, "set": None if isinstance(t, str) else list(t)}
                for i, t in enumerate(prep[it.oid]["text"] for it in texts)]
        ds = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows) // 256, 64)))
        groups.update({texts[a].key: texts[b].key for a, b in near_set_groups(ds, cfg).items()})
    elif texts:
        groups.update(near_duplicate_groups([it.key for it in texts], [prep[it.oid]["text"] for it in texts], cfg))
    imgs = [it for it in by_mod[IMAGE] if prep[it.oid].get("phash") is not None]
    if imgs and distributed and cfg.image_max_hamming >= 7:
        from mmvc.process.distdedup import phash_groups

        import ray

        ds = ray.data.from_items([{"idx": i, "phash": prep[it.oid]["phash"]} for i, it in enumerate(imgs)],
                                 override_num_blocks=max(1, min(len(imgs) // 256, 64)))
        groups.update({imgs[a].key: imgs[b].key for a, b in phash_groups(ds, cfg.image_max_hamming).items()})
    elif imgs:
        groups.update(image_groups([it.key for it in imgs], [_unsigned(prep[it.oid]["phash"]) for it in imgs], cfg.image_max_hamming))
    vids = [it for it in by_mod[VIDEO] if prep[it.oid].get("video_sig")]
    if vids:
        groups.update(video_groups([it.key for it in vids], [[_unsigned(h) for h in prep[it.oid]["video_sig"]] for it in vids],
                                   cfg.video_max_hamming, min_matched=cfg.video_min_matched, min_length_ratio=cfg.video_min_length_ratio))
    auds = [it for it in by_mod[AUDIO] if prep[it.oid].get("audio_fp")]
    if auds:
        import numpy as np

        groups.update(audio_groups([it.key for it in auds], [np.array([_unsigned(h) for h in prep[it.oid]["audio_fp"]], dtype=np.uint64)
                                                             for it in auds], cfg))
    return groups


def _has_text(t) -> bool:
    return t is not None and len(t) > 0


class _RayChatterToFile:
    """Ray's workers and its C++ core log to file descriptor 2; while a run is in flight that
    descriptor points at ``.mmvc/process/ray.log``, so the user's terminal keeps only mmvc's
    own progress and messages (errors still surface as exceptions)."""

    def __init__(self, path: str):
        self.path = path
        self.saved = None

    def __enter__(self):
        import sys

        if sys.stderr is None or not hasattr(sys.stderr, "fileno"):
            return self
        try:
            fd = sys.stderr.fileno()
        except (OSError, ValueError):
            return self  # not a real descriptor (a test runner's capture): leave it alone
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        sys.stderr.flush()
        self.saved = (fd, os.dup(fd))
        log = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)  # the last run's log
        os.dup2(log, fd)
        os.close(log)
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            import sys

            sys.stderr.flush()
            fd, copy = self.saved
            os.dup2(copy, fd)
            os.close(copy)
            self.saved = None
        return False


_CLUSTER_HINT = ("check the address (`ray status --address ADDR` on a node), that this machine can reach it, and Ray's "
                 "token: export RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) as the cluster has it (docs/process.md)")


def _check_reachable(address: str) -> None:
    """Fail fast on a cluster address nothing listens at (Ray itself retries for a minute)."""
    import socket

    from mmvc.errors import ClusterError

    if address == "auto":
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"bad Ray cluster address {address!r}", "give HOST:PORT of the head node (e.g. 10.0.0.5:6379), or auto")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise ClusterError(f"cannot reach the Ray cluster at {address}: {e.strerror or e}", _CLUSTER_HINT) from None


def _byte_bounded(rows: list[dict], limit: int | None = None) -> list[list[dict]]:
    """``rows`` in consecutive chunks of at most ``limit`` bytes of blobs (by their "size")."""
    from mmvc.process.blobs import INLINE_BATCH_BYTES

    limit = limit or INLINE_BATCH_BYTES
    out: list[list[dict]] = [[]]
    total = 0
    for r in rows:
        if out[-1] and total + int(r.get("size") or 0) > limit:
            out.append([])
            total = 0
        out[-1].append(r)
        total += int(r.get("size") or 0)
    return out


def _clean_row(r: dict) -> dict:
    """Pandas turns missing values into NaN and lists into arrays; give the cache plain values."""
    import math

    out = {}
    for k, v in r.items():
        if isinstance(v, float) and math.isnan(v):
            v = None
        elif hasattr(v, "tolist") and not isinstance(v, (bytes, str)):
            v = v.tolist()
        if k in ("video_sig", "audio_fp", "keyframes") and v is not None:
            v = list(v)
        if k == "phash" and v is not None:
            v = int(v)
        out[k] = v
    return out


def summarize(verdicts: list[Verdict]) -> dict:
    """Counts per status and per modality, as status shows them."""
    out: dict[str, dict[str, int]] = {}
    for v in verdicts:
        m = modality_name(v.modality)
        out.setdefault(v.status, {}).setdefault(m, 0)
        out[v.status][m] += 1
    return out
