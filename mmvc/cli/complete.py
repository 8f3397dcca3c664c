"""Shell completion of argument values (click's ``shell_complete``): the repository's names
through ``Repo.completions``, modalities from their list, and files and folders left to the
shell itself (``click.Path`` arguments answer "file" or "dir", and the script then falls back
to the shell's own file-name completion).

A completion never prints or fails: outside a repository, or on a repository it cannot read,
it offers nothing."""

from __future__ import annotations

import click

# The argument types of paths: completed by the shell, passed to the command as plain strings.
FILE = click.Path()
DIR = click.Path(file_okay=False)


def _from_repo(kind: str):
    def complete(ctx, param, incomplete):
        from mmvc.errors import MmvcError
        from mmvc.repo import Repo

        try:
            return Repo.discover().completions(kind, incomplete)
        except (MmvcError, OSError):
            return []

    return complete


revisions = _from_repo("revision")
branches = _from_repo("branch")
tags = _from_repo("tag")
remotes = _from_repo("remote")
remote_branches = _from_repo("remote-branch")
recipes = _from_repo("recipe")
config_keys = _from_repo("config-key")


def branch_or_revision(ctx, param, incomplete):
    """``switch``'s first argument: a branch, or with --detach any revision."""
    return (revisions if ctx.params.get("detach") else branches)(ctx, param, incomplete)


def refs_to_push(ctx, param, incomplete):
    seen: list[str] = []
    for complete in (branches, tags, recipes):
        seen += [c for c in complete(ctx, param, incomplete) if c not in seen]
    return seen


def modalities(ctx, param, incomplete):
    """One modality name, or the last of a comma-separated list (``--only text,im``)."""
    from mmvc.core.modality import MODALITIES

    done, _, last = incomplete.rpartition(",")
    head = done + "," if done else ""
    taken = set(done.split(",")) if done else set()
    return [head + m for m in MODALITIES.values() if m.startswith(last) and m not in taken]
