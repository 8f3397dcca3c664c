"""Domain services: what the verbs (``mmvc.ops``), the catalog, export, the loader and remotes
share, below all of them and above ``mmvc.core``.

Revision names, what a repository can reach, the gate that decides what may enter a version,
pathspecs, sparse rules, process-run records, signatures, moving HEAD and the work tree, the
worker pool. Nothing here imports a verb, the CLI or ``mmvc.repo`` (pyproject.toml's
import-linter contract says so).
"""
