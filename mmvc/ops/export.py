"""``mmvc export --webdataset``: a version (or a recipe) as deterministic tar shards + an index.

Order of writes: every object is checked to exist first (a missing one is named and nothing is
written), then a plan file records the settings and the planned shards, shards are written
under temp names and renamed when whole, and the index is written last: only the index makes
an export complete. ``--resume`` reads the plan, keeps the shards whose name and exact size are
there, and writes the rest.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field

from mmvc.errors import BadInputError, ConflictError, CorruptError

DEFAULT_SHARD_SIZE = 256_000_000
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*", re.I)


@dataclass
class ExportResult:
    target: str
    index: str  # URL or path of index.json
    export_id: str
    commit: str
    rev: str
    recipe: str  # recipe object id (the recipe the export was made from, named or not)
    recipe_name: str
    samples: int
    shards: int
    bytes: int
    reused_shards: int = 0  # finished shards --resume found and kept
    complete_already: bool = False
    seconds: float = 0.0
    components: list = field(default_factory=list)


def parse_size(text: str | int | None) -> int | None:
    """"256MB" → 256,000,000; "256MiB" → 268,435,456; a bare number is bytes."""
    if text is None or isinstance(text, int):
        return text
    m = _SIZE.fullmatch(text)
    if not m:
        raise BadInputError(f"cannot read size {text!r}", "write a size such as 256MB, 1GiB or 500000000")
    mult = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}[m.group(2).lower()]
    n = int(float(m.group(1)) * (1024 if m.group(3) else 1000) ** mult)
    if n <= 0:
        raise BadInputError(f"size {text!r} is not positive", "give a size such as 256MB")
    return n


def export(repo, target: str, rev: str | None = None, where: str | None = None, recipe: str | None = None,
           mix: str | None = None, seed: int | None = None, epoch_size: int | None = None,
           shard_size: int | str | None = None, shard_items: int | None = None, with_embeddings: bool = False,
           jobs: int = 0, resume: bool = False, force: bool = False, allow_ungated: bool = False,
           verify_objects: bool = True, progress=None) -> ExportResult:
    from mmvc.export.index import INDEX_NAME, PLAN_NAME, ShardInfo, decode_index, encode_index
    from mmvc.export.selection import plan as plan_samples
    from mmvc.export.target import ExportTarget
    from mmvc.export.writer import ShardWriter, plan_shards, rehash
    from mmvc.services.gate import require_gated
    from mmvc.export.recipe import build_recipe, resolve_recipe

    t0 = time.monotonic()
    if recipe is not None:
        given = [n for n, v in (("--rev", rev), ("--where", where), ("--mix", mix), ("--seed", seed), ("--epoch-size", epoch_size)) if v is not None]
        if given:
            raise BadInputError(f"--recipe already fixes the version, filter, mixture, seed and epoch size; drop {', '.join(given)}",
                                "or make a new recipe with `mmvc recipe create`")
        recipe_name, recipe_oid, r = resolve_recipe(repo, recipe)
    else:
        r = build_recipe(repo, rev or "HEAD", where, mix, seed or 0, epoch_size)
        recipe_name, recipe_oid = "", r.oid
    if not repo.store.has(r.commit):
        raise CorruptError(f"recipe {recipe_name or recipe_oid[:12]} names commit {r.commit[:12]}, which is missing", "run `mmvc fsck`")
    require_gated(repo, r.commit, r.rev or r.commit[:12], allow_ungated, "export")
    size_limit = parse_size(shard_size)
    if shard_items is not None and shard_items <= 0:
        raise BadInputError(f"--shard-items {shard_items} is not positive", "give a positive number of samples per shard")
    if size_limit is None and shard_items is None:
        size_limit = DEFAULT_SHARD_SIZE

    p = plan_samples(repo, r)
    samples = p.samples
    missing = sorted(repo.store.has_many({s.oid for s in samples}) ^ {s.oid for s in samples})
    if missing:
        where_ = {s.oid: s.path for s in samples}
        shown = ", ".join(f"{o[:12]} ({where_[o]})" for o in missing[:5])
        raise CorruptError(f"{len(missing)} object(s) of {r.rev or r.commit[:12]} are missing from the store: {shown}"
                           + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""),
                           "nothing was exported; fetch them from a remote or restore the files, then run `mmvc fsck`")
    vectors = _vectors(repo, r.commit, samples) if with_embeddings else None
    from mmvc.export.shards import sample_json

    jsons = [sample_json(i, s) for i, s in enumerate(samples)]
    shards = plan_shards(samples, shard_items, size_limit, vectors, jsons)

    info = {"commit": r.commit, "rev": r.rev, "recipe": recipe_oid, "recipe_name": recipe_name or None,
            "filter": r.filter, "mix": [c.to_json() for c in r.mix], "seed": r.seed, "epoch_size": r.epoch_size,
            "samples": len(samples), "bytes": sum(s.size for s in shards),
            "shard_items": shard_items, "shard_size": size_limit, "with_embeddings": bool(with_embeddings),
            "components": p.components, "gate": repo.read_commit(r.commit).gate.mode, "name": f"mmvc export of {r.rev or r.commit[:12]} ({r.commit[:12]})"}
    plan_doc = {"format": 1, "info": info, "shards": [{"filesize": s.size, "nsamples": s.stop - s.start, "url": s.name} for s in shards]}

    tgt = ExportTarget(target)
    names = tgt.names()
    from mmvc.core.objects import canonical_json

    if names:
        if resume and INDEX_NAME in names and PLAN_NAME not in names:
            data = tgt.read(INDEX_NAME)
            assert data is not None  # listed in names
            idx = decode_index(data, tgt.url(INDEX_NAME))
            same = {k: v for k, v in idx.info.items() if k != "format"} == json.loads(canonical_json(info))
            if same and [(s.url, s.nsamples, s.filesize) for s in idx.shards] == [(s.name, s.stop - s.start, s.size) for s in shards]:
                return _result(tgt, idx.export_id, r, recipe_oid, recipe_name, samples, shards, len(shards), True, t0, p)
            raise ConflictError(f"{target} holds a finished export of other settings",
                                "export into a new folder, or pass --force to replace it")
        if resume and PLAN_NAME in names:
            old = json.loads(tgt.read(PLAN_NAME) or b"{}")
            if old.get("info") != json.loads(canonical_json(info)) or old.get("shards") != plan_doc["shards"]:
                raise ConflictError(f"the unfinished export in {target} was started with other settings",
                                    "resume with the same arguments, or pass --force to start over")
        elif not force:
            raise ConflictError(f"{target} is not empty ({len(names)} entries)",
                                "export into a new or empty folder, pass --force to replace what is there, or --resume to finish an interrupted export")
        else:
            tgt.remove(INDEX_NAME)  # from here the folder holds no complete export
            for n in names:
                if n == PLAN_NAME or re.fullmatch(r"shard-\d{6,}\.tar", n) or re.fullmatch(r"\.shard-\d+\.tar\.tmp-.*", n):
                    tgt.remove(n)
    tgt.makedirs()
    for n in names:
        if re.fullmatch(r"\.shard-\d+\.tar\.tmp-.*", n):
            tgt.remove(n)  # left by an interrupted writer
    tgt.write_atomic(PLAN_NAME, canonical_json(plan_doc))

    total_bytes = sum(s.size for s in samples)
    done = [0, 0]
    import threading

    lock = threading.Lock()

    def on_progress(n: int, b: int) -> None:
        if progress is None:
            return
        with lock:
            done[0] += n
            done[1] += b
            progress(done[0], done[1], len(samples), total_bytes)

    results: dict[str, object] = {}
    todo = []
    reused = 0
    present = set(tgt.names()) if resume else set()
    for s in shards:
        if s.name in present and tgt.size(s.name) == s.size:
            results[s.name] = ShardInfo(s.name, s.stop - s.start, s.size, rehash(tgt, s.name))
            reused += 1
            for i in range(s.start, s.stop):
                on_progress(1, samples[i].size)
        else:
            todo.append(s)
    writer = ShardWriter(tgt, repo.store, samples, vectors, verify_objects, on_progress, jsons)
    workers = jobs if jobs and jobs > 0 else min(8, os.cpu_count() or 1)
    try:
        if workers <= 1 or len(todo) <= 1:
            for s in todo:
                results[s.name] = writer.write(s)
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mmvc-export") as ex:
                for s, written in zip(todo, ex.map(writer.write, todo)):
                    results[s.name] = written
    finally:
        writer.close()
    tgt.sync_dir()
    data = encode_index([results[s.name] for s in shards], info)
    tgt.write_atomic(INDEX_NAME, data)
    tgt.remove(PLAN_NAME)
    from mmvc.core.hashing import hash_bytes

    return _result(tgt, hash_bytes(data), r, recipe_oid, recipe_name, samples, shards, reused, False, t0, p)


def _result(tgt, export_id, r, recipe_oid, recipe_name, samples, shards, reused, complete, t0, p) -> ExportResult:
    from mmvc.export.index import INDEX_NAME

    return ExportResult(tgt.spec, tgt.url(INDEX_NAME), export_id, r.commit, r.rev, recipe_oid, recipe_name, len(samples),
                        len(shards), sum(s.size for s in shards), reused, complete, time.monotonic() - t0, p.components)


def _vectors(repo, commit: str, samples: list) -> dict:
    """Each sample's embedding vectors from the catalog: {path: {"text_vector": array, …}}."""
    import numpy as np

    from mmvc.catalog import rows

    t = rows(repo, rev=commit, columns=["key", "text_vector", "clip_vector"], allow_ungated=True)
    wanted = {s.path for s in samples}
    out: dict = {}
    keys = t.column("key").to_pylist()
    for fam in ("text_vector", "clip_vector"):
        col = t.column(fam).to_pylist()
        for k, v in zip(keys, col):
            if v is not None and k in wanted:
                out.setdefault(k, {})[fam] = np.asarray(v, dtype="<f4")
    return out
