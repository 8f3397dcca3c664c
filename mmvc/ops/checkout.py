"""``mmvc switch`` and ``mmvc checkout``: move HEAD and make the work tree match another version
(``mmvc.services.worktree_update`` does the moving; only what differs is written)."""

from __future__ import annotations

from mmvc.core.layout import branch_ref
from mmvc.errors import BadInputError
from mmvc.services.sparse import Sparse
from mmvc.services.worktree_update import CheckoutResult, move_head


def switch(repo, name: str, create: bool = False, start: str | None = None, force: bool = False, detach: bool = False) -> CheckoutResult:
    """Switch to branch ``name`` (``create``: make it first, from ``start`` or HEAD)."""
    from mmvc.ops.branch import create_branch

    if name == "-":
        name = "@{-1}"
    if name.startswith("@{-"):
        from mmvc.services.revparse import previous_branch

        name = previous_branch(repo, int(name[3:-1]))
    created = False
    if create:
        create_branch(repo, name, start or "HEAD")
        created = True
    ref = branch_ref(name)
    if detach:
        return move_head(repo, repo.resolve(name), None, force, None)
    if repo.refs.read(ref) is None:
        hint = f"create it with `mmvc switch -c {name}`; to look at a commit or tag use `mmvc checkout {name}`"
        raise BadInputError(f"no branch named {name!r}", hint)
    res = move_head(repo, repo.refs.read(ref), ref, force, None)
    res.created_branch = created
    return res


def checkout(repo, rev: str, paths: list[str] | None = None, force: bool = False, sparse: list[str] | None = None,
             modality: list[int] | None = None, no_sparse: bool = False, cwd: str | None = None) -> CheckoutResult:
    """``checkout REV``: a branch name switches to it, anything else detaches HEAD at it.
    ``checkout REV -- PATHS`` restores those paths (index and work tree) from REV."""
    if paths:
        from mmvc.ops.restore import restore

        oid = repo.resolve(rev)
        r = restore(repo, paths, staged=True, worktree=True, source=oid, cwd=cwd)
        return CheckoutResult(target=oid, branch=repo.head()[0], previous=repo.head()[1], written=len(r.worktree))
    new_sparse = None
    if sparse is not None or modality:
        new_sparse = Sparse(list(sparse or []), list(modality or []))
    elif no_sparse:
        new_sparse = Sparse(imported=True)
    if rev == "-":
        rev = "@{-1}"
    if rev.startswith("@{-"):
        from mmvc.services.revparse import previous_branch

        rev = previous_branch(repo, int(rev[3:-1]))
    ref = branch_ref(rev)
    if repo.refs.read(ref) is not None:
        return move_head(repo, repo.refs.read(ref), ref, force, new_sparse)
    return move_head(repo, repo.resolve(rev), None, force, new_sparse)
