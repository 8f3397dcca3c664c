"""The trust boundary: what may enter a version (docs/process.md, "The gate").

Two checks, one invariant: a gated version holds no item that was not judged ``passed``, and no
two items that are duplicates of each other.

* ``admit`` runs inside every commit (so also at the end of every merge and pull). An addition
  or modification crosses only if ``mmvc process`` judged it ``passed`` under the repository's
  *current* process config; duplicates and rejections are held back (they stay staged, with
  their verdict in the report); anything unprocessed, or processed under another config,
  refuses the whole commit. Deletions always cross, and so does an entry identical to the
  other parent's in a merge: it crossed when it entered that version.
* ``curate_merge`` runs when two lines of history meet (merge, pull, and any future
  cherry-pick or rebase): each side's items passed against their own side only, so the items
  one side brings are checked against those the other brings, by every tier of the pipeline,
  on the features already computed. A pair it finds is a curation conflict the merge stops on.

An ungated repository (``mmvc init --ungated``) admits everything and every such commit says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mmvc.core.index import PROC_DUPLICATE, PROC_NONE, PROC_PASSED, PROC_REJECTED
from mmvc.core.objects import Gate

CURATION_TIERS = ("exact", "near", "semantic")


@dataclass
class Verdict:
    gate: Gate
    admitted: list = field(default_factory=list)  # (path, IndexEntry | None) to apply
    held: list = field(default_factory=list)  # (path, status): judged duplicate or rejected
    refused: list = field(default_factory=list)  # (path, reason): blocks the commit


def admit(repo, staged: list, current: str | None, versions: tuple[str, ...] = ()) -> Verdict:
    """``staged``: (path, index entry or None for a deletion, HEAD entry or None).
    ``current``: the hash of the repository's current process config (``ProcessConfig.config_hash``;
    unused in an ungated repository). ``versions``: trees of other parents (a merge); an entry
    identical to theirs already crossed the boundary when it entered that version, so it is
    admitted as it is."""
    return Gatekeeper(repo, current, versions).judge(staged)


class Gatekeeper:
    """``admit`` over staged changes that come in chunks (a commit streams them): each chunk
    is judged on its own, and the gate names the report of the latest run seen so far."""

    def __init__(self, repo, current: str | None, versions: tuple[str, ...] = ()):
        self.repo, self.current, self.versions = repo, current, versions
        self.gated = repo.config.gated
        self.gate = Gate(mode="gated", config=current) if self.gated else Gate(mode="ungated")
        self.runs: dict[str, dict] = {}
        self.latest: tuple[str, dict] | None = None

    def judge(self, staged: list) -> Verdict:
        if not self.gated:
            return Verdict(gate=self.gate, admitted=[(p, e) for p, e, _ in staged])
        repo = self.repo
        already: dict = {}
        for root in self.versions:
            for path, t in repo.tree.get_many(root, sorted(p for p, e, _ in staged if e is not None)).items():
                already.setdefault(path, []).append(t)
        from mmvc.services.runs import read_run

        current, runs = self.current, self.runs
        v = Verdict(gate=self.gate)
        for p, e, _ in staged:
            if e is None or any(e.same_content(t) for t in already.get(p, ())):
                v.admitted.append((p, e))
                continue
            if e.proc_status == PROC_NONE or not e.proc_id:
                v.refused.append((p, "not processed"))
                continue
            run = runs.get(e.proc_id) or runs.setdefault(e.proc_id, read_run(repo, e.proc_id))
            if run.get("config") != current:
                v.refused.append((p, "processed under a different process config"))
                continue
            if self.latest is None or run.get("time", 0) >= self.latest[1].get("time", 0):
                self.latest = (e.proc_id, run)
            if e.proc_status == PROC_PASSED:
                v.admitted.append((p, e))
            elif e.proc_status in (PROC_DUPLICATE, PROC_REJECTED):
                v.held.append((p, "duplicate" if e.proc_status == PROC_DUPLICATE else "rejected"))
        if self.latest is not None:
            self.gate = v.gate = Gate(mode="gated", config=current, report=self.latest[1].get("report"))
        return v


def require_gated(repo, commit_oid: str, rev: str, allow_ungated: bool = False, what: str = "this command") -> None:
    """Search, export and the loader trust a version only if its items crossed the gate.
    An ungated version (``mmvc init --ungated``) is refused unless the caller opts in."""
    from mmvc.errors import GateError

    if allow_ungated:
        return
    if repo.read_commit(commit_oid).gate.mode != "gated":
        raise GateError(f"{rev} ({commit_oid[:12]}) is an ungated version: its items never passed `mmvc process`",
                        f"pass --allow-ungated to use it with {what} anyway, or process and commit it in a gated repository")


@dataclass
class CurationConflict:
    """Two items, one brought by each side of a merge, that a tier of the pipeline finds to be
    duplicates of each other: only one of them may enter the merged version."""

    ours: str  # path of the item the current branch brought
    theirs: str  # path of the item the merged branch brings
    tier: str  # exact | near | semantic
    detail: str = ""
