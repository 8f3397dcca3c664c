"""``mmvc status``: staged changes (index vs HEAD) and unstaged ones (work tree vs index, found
by ``mmvc.services.worktree_scan`` without re-reading unchanged files), with the process
verdicts of what is staged in a gated repository.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mmvc.core.index import PROC_STATUS
from mmvc.core.modality import extension_modality, modality_name
from mmvc.services.worktree_scan import scan_worktree


@dataclass
class Change:
    path: str
    kind: str  # added | modified | deleted
    modality: str


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
    for p, e, h in index.staged(repo.tree, root):
        kind = "deleted" if e is None else "added" if h is None else "modified"
        res.staged.append(Change(p, kind, modality_name((e or h).modality)))
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
    res.unstaged = sorted([Change(key, "modified", modality_name(mod)) for key, mod, _, _ in scan.modified]
                          + [Change(key, "deleted", modality_name(mod)) for key, mod in scan.deleted], key=lambda c: c.path)
    res.untracked = [Change(key, "untracked", modality_name(extension_modality(key))) for key in scan.untracked]
    return res
