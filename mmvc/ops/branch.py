"""``mmvc branch``: list, create, delete and rename branches. A branch is a ref; creating one
copies no bytes, whatever the size of the version it points at."""

from __future__ import annotations

from dataclasses import dataclass

from mmvc.core.layout import HEADS, branch_ref
from mmvc.core.refs import check_ref_name
from mmvc.errors import BadInputError, ConflictError
from mmvc.services.history import is_ancestor
from mmvc.services.signature import committer


@dataclass
class BranchInfo:
    name: str
    oid: str
    current: bool
    subject: str = ""


def list_branches(repo, verbose: bool = False) -> list[BranchInfo]:
    head_ref, _ = repo.head()
    out = []
    for ref, oid in repo.refs.list(HEADS).items():
        subject = repo.read_commit(oid).message.splitlines()[0] if verbose else ""
        out.append(BranchInfo(ref[len(HEADS):], oid, ref == head_ref, subject))
    return out


def create_branch(repo, name: str, start: str = "HEAD", force: bool = False) -> BranchInfo:
    check_ref_name(name)
    oid = repo.resolve(start)
    ref = branch_ref(name)
    with repo.locked("branch"):
        old = repo.refs.read(ref)
        if old is not None and not force:
            raise BadInputError(f"a branch named {name!r} already exists", "pick another name, or pass --force to move it")
        head_ref, _ = repo.head()
        if old is not None and ref == head_ref:
            raise ConflictError(f"cannot move {name!r}: it is the current branch", "switch to another branch first")
        repo.refs.update(ref, oid, old, f"branch: created from {start}", committer(repo))
    return BranchInfo(name, oid, False)


def delete_branch(repo, name: str, force: bool = False) -> BranchInfo:
    ref = branch_ref(name)
    with repo.locked("branch"):
        oid = repo.refs.read(ref)
        if oid is None:
            raise BadInputError(f"branch {name!r} not found", "`mmvc branch` lists the branches")
        head_ref, head = repo.head()
        if ref == head_ref:
            raise ConflictError(f"cannot delete {name!r}: it is the current branch", "switch to another branch first")
        if not force and (head is None or not is_ancestor(repo, oid, head)):
            raise ConflictError(f"branch {name!r} is not fully merged into HEAD", f"merge it first, or delete it anyway with `mmvc branch -D {name}`")
        repo.refs.delete(ref, oid)
    return BranchInfo(name, oid, False)


def rename_branch(repo, old: str, new: str) -> BranchInfo:
    check_ref_name(new)
    with repo.locked("branch"):
        oid = repo.refs.read(branch_ref(old))
        if oid is None:
            raise BadInputError(f"branch {old!r} not found", "`mmvc branch` lists the branches")
        repo.refs.rename(branch_ref(old), branch_ref(new), f"branch: renamed {old} to {new}", committer(repo))
    return BranchInfo(new, oid, repo.head()[0] == branch_ref(new))
