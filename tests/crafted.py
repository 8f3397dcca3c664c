"""Versions no mmvc command would write: a hostile remote's, built straight into the store."""

from __future__ import annotations

import dataclasses

from mmvc.core.manifest import ManifestEntry
from mmvc.core.modality import TEXT

# A Git config whose fsmonitor runs a command, and an executable mmvc hook.
EVIL = {
    "sub/.git/config": (b"[core]\n\tfsmonitor = touch /tmp/pwned-by-mmvc\n", 0),
    "tools/.mmvc/hooks/pre-commit": (b"#!/bin/sh\ntouch /tmp/pwned-by-mmvc\n", 1),
}


def craft(repo, items: dict[str, tuple[bytes, int] | None], message: str = "innocent update\n") -> str:
    """Commit, on HEAD's branch, HEAD's tree with ``items`` set (data, flags) or removed (None),
    written straight into the store (``add`` refuses such paths); returns the commit id."""
    branch, head = repo.head()
    parent = repo.read_commit(head)
    with repo.store.writer() as w:
        changes = []
        for path, item in sorted(items.items()):
            entry = None if item is None else ManifestEntry(path, w.put_bytes(item[0]), len(item[0]), TEXT, item[1])
            changes.append((path, entry))
        root = repo.tree.apply_changes(parent.tree, changes, w)
        oid = w.put_bytes(dataclasses.replace(parent, tree=root, parents=(head,), message=message).encode())
    if branch:
        repo.refs.update(branch, oid, head, "crafted", "")
    else:
        repo.refs.set_head_detached(head, oid, "crafted", "")
    return oid
