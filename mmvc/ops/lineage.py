"""``mmvc lineage KEY[@REV]``: where an item came from and what produced its features.

The source chain is the item's own metadata (docs/format.md, "Item metadata": license, source,
provenance with connector, URI, location, retrieval time); the process side is the catalog row
(config hash, process run, report, model ids behind each vector) and the run's recorded config
document, whose license policy is the one the gate enforced when the item passed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from mmvc.core.families import FAMILIES
from mmvc.errors import BadInputError
from mmvc.services.runs import find_run

HISTORY_LIMIT = 10_000


@dataclass
class LineageResult:
    key: str
    rev: str
    commit: str
    oid: str
    modality: str
    size: int
    license: str | None = None
    source: str | None = None
    caption: str | None = None
    transcript: str | None = None
    provenance: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    gate: dict = field(default_factory=dict)  # the version's gate: mode, config, report
    process: dict = field(default_factory=dict)  # config hash, run, report, time, text/clip model, features
    license_policy: dict = field(default_factory=dict)  # allow, deny, verdict
    introduced_by: str | None = None  # oldest commit on the first-parent chain with this exact item
    introduced_time: int | None = None
    in_catalog: bool = False
    note: str = ""
    runs: list = field(default_factory=list)  # training runs over a version holding this item: name, record, commit, position
    evals: list = field(default_factory=list)  # evals of such versions: id, name, commit, model, run


def split_spec(repo, spec: str, rev: str | None) -> tuple[str, str]:
    """``KEY@REV`` when the part after the last ``@`` names a revision; otherwise the whole is a key."""
    from mmvc.errors import MmvcError

    if rev is None and "@" in spec:
        key, _, maybe = spec.rpartition("@")
        if key and maybe:
            try:
                repo.resolve(maybe)
                return key, maybe
            except MmvcError:
                pass
    return spec, rev or "HEAD"


def lineage(repo, spec: str, rev: str | None = None) -> LineageResult:
    from mmvc.catalog.scope import item_id
    from mmvc.catalog.table import open_dataset
    from mmvc.core.modality import modality_name

    key, rev = split_spec(repo, spec, rev)
    oid = repo.resolve(rev)
    c = repo.read_commit(oid)
    e = repo.tree.get_many(c.tree, [key]).get(key) if c.tree else None
    if e is None:
        raise BadInputError(f"no item {key!r} in {rev} ({oid[:12]})", f"`mmvc ls-files {rev}` lists its items")
    meta = json.loads(e.meta) if e.meta else {}
    res = LineageResult(key=key, rev=rev, commit=oid, oid=e.oid, modality=modality_name(e.modality), size=e.size,
                        license=meta.get("license"), source=meta.get("source"), caption=meta.get("caption"),
                        transcript=meta.get("transcript"), provenance=meta.get("provenance") or {}, extra=meta.get("extra") or {},
                        gate=c.gate.to_json())
    ds = open_dataset(repo)
    row = None
    if ds is not None:
        iid = item_id(e.oid, e.meta)
        found = ds.to_table(filter=f"item_id = '{iid}'", columns=["config", "run", "report", *(f.model_column for f in FAMILIES),
                                                                   "features", "written", "status"]).to_pylist()
        if found:
            found.sort(key=lambda r: (r["config"] == (c.gate.config or ""), r["written"] or 0), reverse=True)
            row = found[0]
    if row is None:
        res.note = "the catalog has no row for this item (the version predates the catalog); `mmvc catalog rebuild` adds it"
    else:
        res.in_catalog = True
        res.process = {"config": row["config"] or None, "status": row["status"], "run": row["run"], "report": row["report"],
                       **{f.model_column: row[f.model_column] for f in FAMILIES},
                       "features": json.loads(row["features"]) if row["features"] else {}}
    doc = find_run(repo, row["run"] if row else None)
    if doc:
        res.process["time"] = doc.get("time")
        cd = doc.get("config_doc") or {}
        res.process["models"] = {f.name: (cd.get(f.stage) or {}).get("model") for f in FAMILIES}
        from mmvc.process.stages import stage_versions

        res.process["stages"] = stage_versions(cd)  # the user stages behind its feature columns
        policy = (cd.get("gates") or {}).get("license") or {}
    else:
        from mmvc.process.config import ProcessConfig

        cfg = ProcessConfig.load(repo)
        policy = {"allow": sorted(cfg.license_allow), "deny": sorted(cfg.license_deny), "from": "current config"}
    allow, deny = policy.get("allow") or [], policy.get("deny") or []
    lic = res.license or ""
    verdict = "denied" if lic in deny else ("allowed" if (not allow or lic in allow) else "not allowed")
    res.license_policy = {"allow": allow, "deny": deny, "verdict": verdict if (allow or deny) else "no policy",
                          **({"from": policy["from"]} if "from" in policy else {})}
    res.introduced_by, res.introduced_time = _introduced(repo, oid, key, e)
    res.runs, res.evals = _seen_by(repo, key, e)
    return res


def _seen_by(repo, key: str, entry) -> tuple[list, list]:
    """The training runs and evals whose version holds this item with these bytes."""
    from mmvc.errors import MmvcError
    from mmvc.services.evals import evals_by_commit, read_evals, run_chain, run_names

    holds: dict[str, bool] = {}

    def has(commit: str) -> bool:
        if commit not in holds:
            try:
                tree = repo.read_commit(commit).tree
                other = repo.tree.get_many(tree, [key]).get(key) if tree else None
            except MmvcError:
                other = None
            holds[commit] = other is not None and other.same_content(entry)
        return holds[commit]

    runs = []
    for name, tip in run_names(repo).items():
        records = list(run_chain(repo.store.get, tip))
        rec = records[0][1]
        if not has(rec.commit):
            continue
        state = (rec.checkpoint or {}).get("state") or {}
        runs.append({"name": name, "record": tip, "commit": rec.commit, "recipe": rec.recipe, "export": rec.export,
                     "checkpoints": sum(1 for _, r in records if r.checkpoint), "epoch": state.get("epoch"),
                     "consumed": state.get("consumed"), "samples": rec.setup.get("samples")})
    by_commit = evals_by_commit(repo)
    evals = [{"id": o, "name": ev.name, "commit": ev.commit, "model": ev.model, "run": ev.run}
             for c, ids in sorted(by_commit.items()) if has(c) for o, ev in read_evals(repo, ids)]
    return runs, evals


def _introduced(repo, oid: str, key: str, entry) -> tuple[str | None, int | None]:
    """Walk first parents while the parent still holds the same item."""
    cur = oid
    c = repo.read_commit(cur)
    for _ in range(HISTORY_LIMIT):
        if not c.parents:
            break
        p = repo.read_commit(c.parents[0])
        pe = repo.tree.get_many(p.tree, [key]).get(key) if p.tree else None
        if pe is None or not pe.same_content(entry):
            break
        cur, c = c.parents[0], p
    return cur, c.committer.time
