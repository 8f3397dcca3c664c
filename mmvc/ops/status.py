"""``mmvc status``: staged changes (index vs HEAD) and unstaged ones (work tree vs index, found
by ``mmvc.services.worktree_scan`` without re-reading unchanged files), with the process
verdicts of what is staged in a gated repository.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mmvc.core.diff import ADDED, META, MODIFIED, REMOVED, RENAMED, classify
from mmvc.core.hashing import hash_file
from mmvc.core.index import PROC_STATUS
from mmvc.core.manifest import ManifestEntry
from mmvc.core.modality import extension_modality, modality_name
from mmvc.services.worktree_scan import WorktreeScan, scan_worktree


@dataclass
class Change:
    path: str
    kind: str  # added | modified | deleted | renamed | untracked
    modality: str
    from_path: str | None = None  # renamed: where the item was (the same bytes, now at ``path``)
    head_oid: str | None = None  # staged: the bytes in HEAD; unstaged: the bytes in the index
    index_oid: str | None = None  # the bytes in the index (None: not in the index)


@dataclass
class PorcelainRow:
    """One path as ``git status --porcelain`` shows it: ``x`` is the index against HEAD, ``y``
    the work tree against the index (" " unchanged, M, A, D, R, U unmerged, ? untracked)."""

    x: str
    y: str
    path: str
    from_path: str | None = None
    head_oid: str | None = None
    index_oid: str | None = None


@dataclass
class StatusResult:
    branch: str | None
    head: str | None
    gated: bool
    staged: list[Change] = field(default_factory=list)
    unstaged: list[Change] = field(default_factory=list)  # modified / deleted in the work tree
    untracked: list[Change] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    merging: dict | None = None  # {"theirs": id, "conflicts": [paths], "curation": [{ours, theirs, tier, detail}]} while a merge is open
    moving: dict | None = None  # {"target": id, "ref": branch ref or None}: a switch or checkout that was interrupted

    verdicts: dict = field(default_factory=dict)  # gated repos: process verdict -> modality -> n, for staged items

    def add_verdict(self, verdict: str, modality: int) -> None:
        per = self.verdicts.setdefault(verdict, {})
        name = modality_name(modality)
        per[name] = per.get(name, 0) + 1

    def counts(self) -> dict:
        out: dict[str, dict[str, int]] = {}
        for section, changes in (("staged", self.staged), ("unstaged", self.unstaged), ("untracked", self.untracked)):
            per: dict[str, int] = {}
            for c in changes:
                per[c.modality] = per.get(c.modality, 0) + 1
            out[section] = dict(sorted(per.items()))
        return out

    @property
    def clean(self) -> bool:
        return not (self.staged or self.unstaged or self.untracked)

    def porcelain(self) -> list[PorcelainRow]:
        """Every changed path once, staged and unstaged sides together, in path order, then the
        untracked files, as Git's porcelain formats list them."""
        code = {"added": "A", "modified": "M", "deleted": "D", "renamed": "R"}
        rows: dict[str, PorcelainRow] = {}
        conflicts = set(self.merging["conflicts"]) if self.merging else set()
        for c in self.staged:
            rows[c.path] = PorcelainRow(code[c.kind], " ", c.path, c.from_path, c.head_oid, c.index_oid)
        for c in self.unstaged:
            row = rows.get(c.path)
            if row is None:
                rows[c.path] = PorcelainRow(" ", code[c.kind], c.path, c.from_path, c.head_oid, c.index_oid)
            else:
                row.y = code[c.kind]
        for p in conflicts:
            rows[p] = PorcelainRow("U", "U", p)
        return sorted(rows.values(), key=lambda r: r.path) + [PorcelainRow("?", "?", c.path) for c in self.untracked]


def _count_processed(repo, res: StatusResult, runs: dict) -> None:
    """Verdicts of processed staged items; an item judged under another config is "stale"."""
    from mmvc.services.runs import read_run
    from mmvc.process.config import ProcessConfig

    current = ProcessConfig.load(repo).config_hash()
    for run_id, rows in runs.items():
        stale = read_run(repo, run_id).get("config") != current
        for _, modality, verdict in rows:
            res.add_verdict("stale" if stale else verdict, modality)


def status(repo, untracked: bool = True) -> StatusResult:
    branch, head = repo.head()
    root = repo.read_commit(head).tree if head else ""
    index = repo.load_index()
    res = StatusResult(branch=branch, head=head, gated=repo.config.gated)
    from mmvc.services.worktree_update import interrupted_move

    move = interrupted_move(repo)
    if move is not None:
        res.moving = {"target": move.get("target"), "ref": move.get("ref")}
    state_path = repo.layout.merge_state
    if os.path.exists(state_path):
        import json

        with open(state_path) as f:
            state = json.load(f)
        res.merging = {"theirs": state["theirs"], "conflicts": [c["path"] for c in state["conflicts"]],
                       "curation": state.get("curation", [])}
    runs: dict = {}
    staged = index.staged(repo.tree, root)
    res.staged = _changes([(p, h, e.manifest() if e is not None else None) for p, e, h in staged])
    for p, e, _ in staged:
        if e is not None and res.gated:
            verdict = PROC_STATUS.get(e.proc_status, "unprocessed")
            if e.proc_id:
                runs.setdefault(e.proc_id, []).append((p, e.modality, verdict))
            else:
                res.add_verdict(verdict, e.modality)
    if runs:
        _count_processed(repo, res, runs)
    scan = scan_worktree(repo, index, untracked)
    res.skipped = scan.skipped
    moved = _moved_in_worktree(repo, index, scan)
    res.unstaged = sorted([Change(key, "modified", modality_name(mod), None, index.get(key).oid, index.get(key).oid)
                           for key, mod, _, _ in scan.modified]
                          + [c for c in moved if c.kind != "added"], key=lambda c: c.path)
    taken = {c.path for c in moved if c.kind == "renamed"}
    res.untracked = [Change(key, "untracked", modality_name(extension_modality(key))) for key in scan.untracked if key not in taken]
    return res


_KIND = {ADDED: "added", REMOVED: "deleted", MODIFIED: "modified", META: "modified", RENAMED: "renamed"}


def _changes(triples) -> list[Change]:
    """Status's view of (path, old, new) triples: a removal and an addition of the same bytes
    are one rename, paired as ``mmvc diff`` pairs them."""
    return [Change(c.path, _KIND[c.kind], c.modality, c.old_path if c.kind == RENAMED else None,
                   c.old.oid if c.old else None, c.new.oid if c.new else None) for c in classify(triples).changes]


def _moved_in_worktree(repo, index, scan: WorktreeScan) -> list[Change]:
    """The work tree's deletions, with those whose bytes reappear in an untracked file of the
    same size shown as renames (a plain ``mv``). Only untracked files of a size some deleted
    item had are hashed."""
    gone = [index.get(key).manifest() for key, _ in scan.deleted]
    sizes = {e.size for e in gone}
    triples: list[tuple[str, ManifestEntry | None, ManifestEntry | None]] = [(e.path, e, None) for e in gone]
    for key in scan.untracked if gone else ():
        full = repo.worktree.abspath(key)
        try:
            size = os.stat(full).st_size
        except OSError:
            continue  # gone since the walk
        oid = hash_file(full) if size in sizes else None
        if oid is not None:
            triples.append((key, None, ManifestEntry(key, oid, size, extension_modality(key))))
    changes = _changes(triples)
    for c in changes:
        c.index_oid = c.head_oid  # the index still holds what the work tree lost
    return changes
