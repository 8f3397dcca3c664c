"""``mmvc catalog status`` and ``mmvc catalog rebuild``; ``Repo.catalog(rev)``'s view of one version.

The catalog is derived data: every row can be regenerated from the object store (manifests,
commits and the process reports they name) and the feature cache. ``rebuild`` walks every
version the refs and HEAD reach, oldest first; each commit contributes the items it added or
changed against its first parent, under its own gate config. Features come from the commit's
process report, then the decode cache; vectors from the feature cache under that config's
stage hashes (known for the current config, and for any config a process run object records).
The new table is written beside the old one and swapped in whole. The dedup index is then read
in again from the dedup-features objects the versions name.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field

from mmvc.services.runs import find_run


@dataclass
class CatalogStatus:
    exists: bool
    path: str
    format: int | None = None
    table_version: int | None = None
    rows: int = 0
    by_modality: dict = field(default_factory=dict)
    vectors: dict = field(default_factory=dict)  # family -> rows with a vector
    indexes: list = field(default_factory=list)  # vector columns with an ANN index
    index_threshold: int = 0
    head_items: int = 0
    head_missing: int = 0  # HEAD items with no catalog row
    error: str | None = None


@dataclass
class RebuildResult:
    commits: int = 0
    rows: int = 0
    vectors: dict = field(default_factory=dict)
    without_vectors: int = 0  # passed rows whose vectors the cache no longer holds
    indexes: list = field(default_factory=list)
    seconds: float = 0.0
    dedup_rows: int = 0  # rows of the dedup index, read in again from the dedup-features objects


def status(repo) -> CatalogStatus:
    from mmvc.core.extras import require

    require("catalog", "pyarrow", "lance", what="mmvc catalog status")
    from mmvc.catalog.read import missing_rows
    from mmvc.catalog.schema import FORMAT_KEY
    from mmvc.catalog.scope import scope
    from mmvc.catalog.table import dataset_path, family_counts, index_threshold, indexed_columns, open_dataset
    from mmvc.errors import MmvcError

    st = CatalogStatus(exists=os.path.isdir(dataset_path(repo)), path=os.path.relpath(dataset_path(repo), repo.root),
                       index_threshold=index_threshold(repo))
    try:
        ds = open_dataset(repo)
    except MmvcError as e:
        st.error = e.message
        return st
    tree = repo.head_tree()
    sc = scope(repo, tree) if tree else None
    st.head_items = sc.num_rows if sc is not None else 0
    if ds is None:
        st.head_missing = st.head_items
        return st
    import pyarrow.compute as pc

    st.format = int((ds.schema.metadata or {}).get(FORMAT_KEY, b"0"))
    st.table_version = ds.version
    st.rows = ds.count_rows()
    mods = ds.to_table(columns=["modality"]).column("modality")
    st.by_modality = {r["values"]: r["counts"] for r in pc.value_counts(mods).to_pylist()} if st.rows else {}
    st.vectors = family_counts(ds)
    st.indexes = sorted(indexed_columns(ds))
    if sc is not None and sc.num_rows:
        st.head_missing = missing_rows(ds, tree, sc)
    return st


def _reachable_commits(repo) -> list:
    from collections import deque

    from mmvc.core.layout import HEADS, TAGS

    tips = set()
    for prefix in (HEADS, TAGS):
        for oid in repo.refs.list(prefix).values():
            tips.add(oid)
    _, head = repo.head()
    if head:
        tips.add(head)
    seen, out = set(), []
    queue: deque[str] = deque()
    for t in tips:
        try:
            from mmvc.services.revparse import peel

            queue.append(peel(repo, t))
        except Exception:
            continue
    while queue:
        oid = queue.popleft()
        if oid in seen:
            continue
        seen.add(oid)
        c = repo.read_commit(oid)
        out.append((oid, c))
        queue.extend(c.parents)
    out.sort(key=lambda oc: (oc[1].committer.time, oc[0]))
    return out


def rebuild(repo, progress=None) -> RebuildResult:
    from mmvc.core.extras import require

    require("catalog", "pyarrow", "lance", what="mmvc catalog rebuild")
    from mmvc.catalog.rowbuild import FeatureSource, build_rows
    from mmvc.catalog.table import catalog_dir, dataset_path, insert_rows, maintain_indexes, open_dataset
    from mmvc.core.diff import diff_trees
    from mmvc.process.config import ProcessConfig

    t0 = time.perf_counter()
    res = RebuildResult()
    progress = progress or (lambda *a: None)
    with repo.locked("catalog rebuild"):
        cfg = ProcessConfig.load(repo)
        docs = {cfg.config_hash(): cfg.describe()}
        docs.update(_recorded_configs(repo))
        commits = _reachable_commits(repo)
        res.commits = len(commits)
        live = catalog_dir(repo)
        building = repo.layout.catalog_rebuild
        shutil.rmtree(building, ignore_errors=True)
        target = os.path.join(building, os.path.relpath(dataset_path(repo), live))
        sources: dict = {}
        trees: dict = {}
        for i, (oid, c) in enumerate(commits):
            progress("rebuild", i, len(commits))
            parent_tree = ""
            if c.parents:
                p = c.parents[0]
                parent_tree = trees.get(p) or repo.read_commit(p).tree
            trees[oid] = c.tree
            items = [(path, b) for path, a, b in diff_trees(repo.tree, parent_tree, c.tree) if b is not None]
            if not items:
                continue
            if c.gate.mode == "gated":
                key = c.gate.config or ""
                src = sources.get(key)
                if src is None:
                    src = sources[key] = FeatureSource(repo, c.gate.config, docs.get(c.gate.config))
                src.add_report(c.gate.report)
                table = build_rows(repo, items, src, now=c.committer.time)
            else:
                table = build_rows(repo, items, None, now=c.committer.time)
            res.rows += insert_rows(repo, table, target)
        progress("rebuild", len(commits), len(commits))
        ds = open_dataset(repo, target)
        if ds is not None:
            res.indexes = maintain_indexes(repo, ds)
            from mmvc.catalog.table import family_counts

            res.vectors = family_counts(ds)
            res.without_vectors = ds.count_rows(filter="status = 'passed' AND text_model IS NULL AND clip_model IS NULL "
                                                       "AND modality IN ('text', 'image', 'video')")
        scopes = repo.layout.scopes
        if os.path.isdir(scopes) and os.path.isdir(building):
            shutil.move(scopes, os.path.join(building, os.path.relpath(scopes, live)))
        aside = repo.layout.catalog_aside
        shutil.rmtree(aside, ignore_errors=True)
        if os.path.isdir(live):
            os.rename(live, aside)
        if os.path.isdir(building):
            os.rename(building, live)
        shutil.rmtree(aside, ignore_errors=True)
        res.dedup_rows = _rebuild_dedup_index(repo, cfg, [oid for oid, _ in commits])
    res.seconds = time.perf_counter() - t0
    return res


def _rebuild_dedup_index(repo, cfg, commits: list[str]) -> int:
    """The dedup index read in again from the dedup-features objects every version names."""
    from mmvc.catalog.dedup_index import DedupIndex
    from mmvc.process.dedupfeatures import dedup_config

    index = DedupIndex(repo, dedup_config(cfg.describe()))
    index.remove()
    for oid in commits:  # each sync reads in only the objects not yet read
        index.sync(oid)
    return index.rows()


def _recorded_configs(repo) -> dict:
    """Config documents of the process runs the index still names (their hash → document)."""
    from mmvc.errors import MmvcError

    out: dict = {}
    try:
        index = repo.load_index()
        runs = {e.proc_id for e in index.iter_entries() if getattr(e, "proc_id", None)}
    except MmvcError:
        return out

    for r in runs:
        doc = find_run(repo, r)
        if doc and doc.get("config") and doc.get("config_doc"):
            out[doc["config"]] = doc["config_doc"]
    return out


class CatalogView:
    """The catalog as of one version. Nothing is read until a ``to_*`` call."""

    def __init__(self, repo, rev: str = "HEAD", where: str | None = None, columns=None, allow_ungated: bool = False):
        self.repo = repo
        self.rev = rev
        self.where = where
        self.columns = columns
        self.allow_ungated = allow_ungated

    def filter(self, where: str) -> CatalogView:
        both = f"({self.where}) AND ({where})" if self.where else where
        return CatalogView(self.repo, self.rev, both, self.columns, self.allow_ungated)

    def select(self, columns) -> CatalogView:
        return CatalogView(self.repo, self.rev, self.where, columns, self.allow_ungated)

    def to_arrow(self):
        from mmvc.catalog import rows

        return rows(self.repo, self.rev, where=self.where, columns=self.columns, allow_ungated=self.allow_ungated)

    def to_pandas(self):
        return self.to_arrow().to_pandas()

    def to_lance(self, path: str | None = None):
        """With ``path``: the version's rows written there as a standalone Lance dataset. Without:
        the shared, content-keyed table itself (every version's rows; keys come from a version)."""
        from mmvc.catalog.table import open_dataset, write_standalone

        if path is None:
            return open_dataset(self.repo)
        return write_standalone(self.to_arrow(), path)

    def search(self, query=None, **kw):
        from mmvc.ops.search import search

        return search(self.repo, query, rev=self.rev, where=self.where, allow_ungated=self.allow_ungated, **kw)

    def __len__(self) -> int:
        return self.select(["key"]).to_arrow().num_rows

    def __repr__(self) -> str:
        return f"CatalogView(rev={self.rev!r}, where={self.where!r})"
