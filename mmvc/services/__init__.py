"""Domain services: what the verbs (``mmvc.ops``), the catalog, export, the loader and remotes
share, below all of them and above ``mmvc.core``.

``repository`` (a repository and its parts, opened without the verbs), ``revparse`` (revision
names), ``history`` (topological walk, merge bases), ``reachability`` (what fsck and gc reach),
``gate`` (what may enter a version), ``runs`` (process-run objects and reports), ``pathspecs``,
``sparse`` (which items the work tree holds), ``worktree_scan`` (the work tree against the
index), ``worktree_update`` (moving HEAD and the work tree), ``signature`` (who and when),
``remotes`` (named remotes as configured) and ``workerpool`` (processes for add and import).
Nothing here imports a verb, the CLI or ``mmvc.repo`` (pyproject.toml's import-linter contract).
"""
