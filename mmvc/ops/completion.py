"""What the shell completes for ``mmvc`` arguments that name things in the repository:
revisions, branches, tags, remotes, recipes and config keys. Read from refs and the config
alone (never an object), so a Tab costs a few file reads."""

from __future__ import annotations

from mmvc.core.layout import HEADS, RECIPES, REMOTES, TAGS

KINDS = ("revision", "branch", "tag", "remote", "remote-branch", "recipe", "config-key")

# Settings worth offering before they are set (docs/format.md, docs/process.md); set ones are
# offered too, whatever they are.
CONFIG_KEYS = (
    "core.link", "core.pack_threshold", "core.fsync_objects", "core.jobs",
    "user.name", "user.email",
    "process.gated", "process.batch_size", "process.num_gpus", "process.num_cpus", "process.ray_address", "process.dtype",
    "process.families.text", "process.families.clip", "process.models.text", "process.models.image",
    "process.semantic.eps", "process.semantic.keep", "process.license.allow", "process.license.deny",
    "gc.prune",
)


def _names(repo, prefix: str) -> list[str]:
    return sorted(ref[len(prefix):] for ref in repo.refs.list(prefix.rstrip("/")))


def completions(repo, kind: str, incomplete: str = "") -> list[str]:
    """The candidates of ``kind`` that start with ``incomplete``. A revision range (``A..B``,
    ``A...B``) completes its right-hand side."""
    if kind == "revision" and ".." in incomplete:
        cut = incomplete.rindex("..") + 2
        return [incomplete[:cut] + c for c in completions(repo, kind, incomplete[cut:])]
    if kind == "revision":
        found = ["HEAD", "HEAD~", *_names(repo, HEADS), *_names(repo, TAGS), *_names(repo, REMOTES)]
    elif kind == "branch":
        found = _names(repo, HEADS)
    elif kind == "tag":
        found = _names(repo, TAGS)
    elif kind == "remote":
        found = sorted((repo.config.raw.get("remote") or {}).keys())
    elif kind == "remote-branch":
        found = sorted({name.split("/", 1)[1] for name in _names(repo, REMOTES) if "/" in name})
    elif kind == "recipe":
        found = _names(repo, RECIPES)
    elif kind == "config-key":
        from mmvc.ops.config import list_config

        found = sorted(set(CONFIG_KEYS) | set(list_config(repo)))
    else:
        raise ValueError(f"no completion of {kind!r}; known: {', '.join(KINDS)}")
    return [c for c in dict.fromkeys(found) if c.startswith(incomplete)]
