"""``mmvc commit``: staged entries cross the trust boundary into a new version.

Order of writes: the catalog rows of the admitted items (content-keyed, so rows no version
names yet are harmless), then tree nodes and the commit object (one pack, finished and
durable), then the branch ref by compare-and-swap, then the index. A crash before the ref moves leaves only
unreferenced objects; a crash after it leaves an index that still agrees with the new HEAD.

The staged changes are streamed from the index in sorted chunks, once to judge them all (nothing
is written unless the whole commit may cross), once into the catalog and once into the tree,
so a commit's memory does not grow with the number of items it records.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from mmvc.core.modality import modality_name
from mmvc.core.objects import Commit
from mmvc.errors import ConflictError, GateError
from mmvc.services.signature import signature


@dataclass
class CommitResult:
    oid: str
    branch: str | None
    parent: str | None
    message: str
    added: int = 0
    modified: int = 0
    deleted: int = 0
    gate: str = "ungated"
    by_modality: dict[str, int] = field(default_factory=dict)
    hook_output: str = ""
    held: int = 0  # staged items the gate held back (duplicate or rejected)
    catalog_rows: int = 0  # rows the commit added to the catalog (items already there add none)
    catalog_skipped: bool = False  # an ungated commit without the catalog extra wrote no rows


def commit(repo, message: str, allow_empty: bool = False, no_verify: bool = False, extra_parents: tuple[str, ...] = (),
           hook: str = "pre-commit") -> CommitResult:
    """Record the staged entries as a new version. ``extra_parents`` makes a merge commit.

    User hooks run outside the repository lock (a pre-commit hook may itself stage files);
    the trust boundary (``admit``) runs inside it and is never skipped."""
    if not message or not message.strip():
        raise ConflictError("empty commit message", "give one with -m MESSAGE")
    from mmvc.core.hooks import run_hook
    from mmvc.process.config import ProcessConfig
    from mmvc.services.gate import Gatekeeper

    branch, head = repo.head()
    hook_env = {"MMVC_BRANCH": (branch or "").split("/", 2)[-1], "MMVC_OLD": head or ""}
    if not no_verify:
        run_hook(repo, hook, env=hook_env)
        message = _run_commit_msg(repo, message, hook_env)
    with repo.locked("commit"):
        branch, parent = repo.head()
        root = repo.read_commit(parent).tree if parent else ""
        index = repo.load_index()
        tree = repo.tree
        others = tuple(repo.read_commit(x).tree for x in extra_parents)
        current = ProcessConfig.load(repo).config_hash() if repo.config.gated else None

        def judged(keeper):
            """(staged chunk, its verdict), in path order."""
            for chunk in index.staged_chunks(tree, root):
                yield chunk, keeper.judge(chunk)

        staged = admitted = held = refused_n = 0
        refused: list = []
        keeper = Gatekeeper(repo, current, others)
        if keeper.gated:  # an ungated commit admits everything: no verdicts to gather first
            for chunk, v in judged(keeper):
                staged += len(chunk)
                admitted += len(v.admitted)
                held += len(v.held)
                refused_n += len(v.refused)
                refused += v.refused[: max(0, 5 - len(refused))]
        else:
            staged = admitted = len(next(index.staged_chunks(tree, root), []))
        gate = keeper.gate
        if not staged and not allow_empty and not extra_parents:
            raise ConflictError("nothing to commit (no staged changes)", "stage changes with `mmvc add`, or pass --allow-empty")
        if refused_n:
            shown = "; ".join(f"{p} ({why})" for p, why in refused)
            more = f" and {refused_n - 5} more" if refused_n > 5 else ""
            raise GateError(f"{refused_n} staged item(s) may not enter a version: {shown}{more}",
                            "run `mmvc process` (under the current config), then commit again")
        if not admitted and not allow_empty and not extra_parents:
            raise ConflictError(f"nothing to commit: all {held} staged item(s) were judged duplicate or rejected",
                                "`mmvc report` says why; `mmvc rm --cached PATH` unstages them")
        result = CommitResult(oid="", branch=branch, parent=parent, message=message, gate=gate.mode)

        def admitted_chunks():
            """The admitted changes, chunk by chunk, counted into the result as they pass."""
            for chunk, v in judged(Gatekeeper(repo, current, others)):
                crossing = dict(v.admitted)
                for p, e, h in chunk:
                    if p not in crossing:
                        continue
                    if e is None:
                        result.deleted += 1
                    elif h is None:
                        result.added += 1
                    else:
                        result.modified += 1
                    if e is not None:
                        name = modality_name(e.modality)
                        result.by_modality[name] = result.by_modality.get(name, 0) + 1
                yield v.admitted  # IndexEntry rows serve as manifest entries (same leading fields)

        from mmvc.catalog import record_commit_chunks

        # rows first: keyed by content, rows no version names yet are harmless (see record_commit)
        rows = record_commit_chunks(repo, (v.admitted for _, v in judged(Gatekeeper(repo, current, others))), gate)
        result.catalog_rows, result.catalog_skipped = rows or 0, rows is None
        with repo.store.writer(durable=True) as w:
            if root:
                new_root = root
                for changes in admitted_chunks():
                    new_root = tree.apply_changes(new_root, changes, w)
            else:
                new_root = tree.build((e for changes in admitted_chunks() for _, e in changes if e is not None), w)
            author = signature(repo, "AUTHOR")
            committer = signature(repo, "COMMITTER")
            from mmvc.catalog.dedup_index import write_commit_features

            admitted_pairs = (pair for _, v in judged(Gatekeeper(repo, current, others)) for pair in v.admitted)
            features, feature_rows = write_commit_features(repo, admitted_pairs, gate, w)
            if features:
                gate = replace(gate, dedup=features)
            c = Commit(tree=new_root, parents=((parent,) if parent else ()) + tuple(extra_parents), author=author, committer=committer,
                       message=message if message.endswith("\n") else message + "\n", gate=gate)
            result.oid = w.put_bytes(c.encode())
        if features:  # this clone's dedup index, like the catalog, before the ref moves
            from mmvc.catalog.dedup_index import DedupIndex

            DedupIndex(repo).ingest(features, feature_rows)
        subject = message.strip().splitlines()[0]
        note = f"commit{' (initial)' if not parent else ''}: {subject}"
        if branch:
            repo.refs.update(branch, result.oid, parent, note, committer.who)
        else:
            repo.refs.set_head_detached(parent, result.oid, note, committer.who)
        result.held = held
        if index.should_fold() and not held:  # every overlay entry now agrees with the new HEAD
            index.fold()
            index.write()
    if not no_verify:
        run = run_hook(repo, "post-commit", env={**hook_env, "MMVC_NEW": result.oid}, check=False)
        result.hook_output = run.output if run else ""
    return result


def _run_commit_msg(repo, message: str, env: dict) -> str:
    """Give the commit-msg hook the message in a file it may edit; return what it leaves."""
    from mmvc.core.hooks import hook_path, run_hook

    if hook_path(repo, "commit-msg") is None:
        return message
    path = repo.layout.commit_editmsg
    with open(path, "w", encoding="utf-8") as f:
        f.write(message if message.endswith("\n") else message + "\n")
    run_hook(repo, "commit-msg", args=(path,), env=env)
    with open(path, encoding="utf-8") as f:
        edited = f.read()
    if not edited.strip():
        raise ConflictError("the commit-msg hook left an empty message", "fix the hook")
    return edited
