"""Every path under ``.mmvc/``, named in one place (as dulwich's repository constants are).

Modules ask a ``Layout`` for a path instead of spelling it. Each path is one entry: a property
(fixed paths) or a method (paths with a variable part) whose docstring says what the file holds,
registered with the pattern docs/format.md uses for it and the section of docs/format.md that
specifies its bytes. ``Layout.describe`` names the entry a file belongs to, so a repository can
be walked and any file nothing describes found (tests/core/test_layout.py).

Patterns: ``<name>`` is one path component, ``<name...>`` one or more (ref names have slashes),
a trailing ``/**`` a folder whose contents belong to the entry (a Lance dataset's internals).
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

from mmvc.core.atomicfile import is_temp_name

MMVC_DIR = ".mmvc"

# Ref namespaces: a ref's name is also its path under .mmvc/ (and under a remote's URL).
REFS = "refs/"
HEADS = "refs/heads/"
TAGS = "refs/tags/"
RECIPES = "refs/recipes/"
EVALS = "refs/evals/"
RUNS = "refs/runs/"
REMOTES = "refs/remotes/"
HEAD = "HEAD"
# Roots a merge in progress (or a history rewrite) leaves, read by fsck and gc as versions.
SPECIAL_HEADS = ("MERGE_HEAD", "ORIG_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD")


def branch_ref(name: str) -> str:
    return HEADS + name


def tag_ref(name: str) -> str:
    return TAGS + name


def recipe_ref(name: str) -> str:
    return RECIPES + name


def eval_ref(commit: str, eval_id: str) -> str:
    """``refs/evals/<commit>/<eval id>``: the commit first, so a version's evals are one folder."""
    return f"{EVALS}{commit}/{eval_id}"


def run_ref(name: str) -> str:
    return RUNS + name


def tracking_ref(remote: str, branch: str = "") -> str:
    """``refs/remotes/<remote>/<branch>``; without a branch, the remote's namespace (for listing)."""
    return f"{REMOTES}{remote}/{branch}" if branch else f"{REMOTES}{remote}"


def short_ref(ref: str) -> str:
    """A ref's name without its namespace: ``refs/heads/main`` → ``main``."""
    return ref.split("/", 2)[-1] if ref.startswith(REFS) else ref


class Entry(NamedTuple):
    name: str  # the Layout attribute that gives the path
    pattern: str  # the path under .mmvc/ as docs/format.md writes it
    section: str  # the docs/format.md section that specifies it
    doc: str  # what it holds


_ENTRIES: list[Entry] = []


def _entry(pattern: str, section: str, doc: str = ""):
    """Register the decorated path as the entry ``pattern``; ``doc`` overrides its docstring
    where one path stands for several entries (the object store's insides)."""

    def register(fn):
        _ENTRIES.append(Entry(fn.__name__, pattern, section, doc or " ".join((fn.__doc__ or "").split())))
        return fn

    return register


class Layout:
    """Paths of one repository's ``.mmvc`` folder (``dir``)."""

    def __init__(self, mmvc_dir: str):
        self.dir = mmvc_dir

    def _at(self, *parts: str) -> str:
        return os.path.join(self.dir, *parts)

    # -- configuration and refs

    @property
    @_entry("config.toml", "Configuration")
    def config(self) -> str:
        """Repository settings and the format version (`[core] format`)."""
        return self._at("config.toml")

    @property
    @_entry("HEAD", "Refs")
    def head(self) -> str:
        """The checked-out branch (`ref: refs/heads/<branch>`) or a detached commit id."""
        return self._at(HEAD)

    @_entry("refs/heads/<branch...>", "Refs")
    def branch(self, name: str) -> str:
        """A branch: the id of its newest commit."""
        return self.ref(branch_ref(name))

    @_entry("refs/tags/<tag...>", "Refs")
    def tag(self, name: str) -> str:
        """A tag: a commit id (lightweight) or a tag object id (annotated)."""
        return self.ref(tag_ref(name))

    @_entry("refs/recipes/<recipe...>", "Refs")
    def recipe(self, name: str) -> str:
        """A recipe name: the id of its recipe object."""
        return self.ref(recipe_ref(name))

    @_entry("refs/evals/<commit>/<eval>", "Evaluations")
    def eval(self, commit: str, eval_id: str) -> str:
        """An eval of a version: the eval object's id (the name's last part, again)."""
        return self.ref(eval_ref(commit, eval_id))

    @_entry("refs/runs/<run...>", "Training runs")
    def run(self, name: str) -> str:
        """A training run: the id of its newest record."""
        return self.ref(run_ref(name))

    @_entry("refs/remotes/<remote>/<branch...>", "Remotes' local state")
    def tracking(self, remote: str, branch: str) -> str:
        """Where a remote's branch was at the last push or fetch."""
        return self.ref(tracking_ref(remote, branch))

    def ref(self, ref: str) -> str:
        """The file of a ref given by its full name (``refs/...``); one of the entries above."""
        return self._at(*ref.split("/"))

    @property
    def refs(self) -> str:
        """The folder of every ref."""
        return self._at("refs")

    @_entry("logs/<ref...>", "Reflogs")
    def reflog(self, ref: str) -> str:
        """One ref's (or HEAD's) reflog: a line per move, oldest first."""
        return self._at("logs", *ref.split("/"))

    @property
    def logs(self) -> str:
        """The folder of every reflog."""
        return self._at("logs")

    # -- merge state and messages

    @property
    @_entry("MERGE_HEAD", "Merge state")
    def merge_head(self) -> str:
        """While a merge has open conflicts: the commit being merged in."""
        return self._at("MERGE_HEAD")

    @property
    @_entry("ORIG_HEAD", "Merge state")
    def orig_head(self) -> str:
        """The commit HEAD was at when the last merge started (what `merge --abort` restores)."""
        return self._at("ORIG_HEAD")

    @property
    @_entry("MERGE_STATE.json", "Merge state")
    def merge_state(self) -> str:
        """While a merge has open conflicts: its base, both sides, message, conflicts and paths taken."""
        return self._at("MERGE_STATE.json")

    @property
    @_entry("MERGE_MSG", "Merge state")
    def merge_msg(self) -> str:
        """Reserved: written by no command; removed when a merge ends."""
        return self._at("MERGE_MSG")

    @property
    @_entry("CHERRY_PICK_HEAD", "Merge state")
    def cherry_pick_head(self) -> str:
        """Reserved: written by no command; a commit it names is kept reachable."""
        return self._at("CHERRY_PICK_HEAD")

    @property
    @_entry("REVERT_HEAD", "Merge state")
    def revert_head(self) -> str:
        """Reserved: written by no command; a commit it names is kept reachable."""
        return self._at("REVERT_HEAD")

    def special_head(self, name: str) -> str:
        """One of ``SPECIAL_HEADS`` by name."""
        return self._at(name)

    @property
    @_entry("COMMIT_EDITMSG", "Commits")
    def commit_editmsg(self) -> str:
        """The message of the last commit that ran a `commit-msg` hook (the file the hook edits)."""
        return self._at("COMMIT_EDITMSG")

    # -- index and objects

    @property
    @_entry("index", "Index")
    def index(self) -> str:
        """The index overlay: staged entries and deletions over the base it names."""
        return self._at("index")

    @property
    def index_bases(self) -> str:
        """The folder of index bases."""
        return self._at("index.d")

    @_entry("index.d/<id>.base", "Index")
    def index_base(self, base_id: str) -> str:
        """An index base: the large, immutable table of entries the overlay sits on."""
        return self._at("index.d", base_id + ".base")

    @property
    @_entry("objects/<ab>/<cd>/<id>", "Loose objects", "A loose object: exactly the object's bytes, read-only.")
    @_entry("objects/pack/pack-<name>.pack", "Pack files", "A pack: small objects, one record after another.")
    @_entry("objects/pack/pack-<name>.idx", "Pack files", "A pack's index (ids, offsets, lengths): what makes the pack visible.")
    @_entry("objects/tmp/<temp>", "Loose objects", "An object or pack being written; garbage once its writer is gone.")
    def objects(self) -> str:
        """The local object store. Its insides belong to mmvc.core.store, which lays a remote's
        ``objects/`` out the same way."""
        return self._at("objects")

    # -- work-tree state

    @property
    @_entry("sparse.json", "Sparse checkout")
    def sparse(self) -> str:
        """Which items the work tree holds (patterns, modalities); absent: all."""
        return self._at("sparse.json")

    @property
    @_entry("WORKTREE_OP.json", "Interrupted work-tree moves")
    def worktree_op(self) -> str:
        """While switch/checkout moves HEAD: where to, so that the next command can finish it."""
        return self._at("WORKTREE_OP.json")

    @property
    @_entry("lock", "Locks")
    def lock(self) -> str:
        """Present while a command writes: who holds the repository lock."""
        return self._at("lock")

    @property
    def crash_dir(self) -> str:
        """The folder of internal-error tracebacks."""
        return self._at("crash")

    @_entry("crash/mmvc-<time>-<pid>.txt", "Crash reports")
    def crash_report(self, stamp: str, pid: int) -> str:
        """The traceback of an internal error (exit 255), written by the command line only."""
        return self._at("crash", f"mmvc-{stamp}-{pid}.txt")

    @property
    def hooks(self) -> str:
        """The folder of hook scripts."""
        return self._at("hooks")

    @_entry("hooks/<hook>", "Hooks")
    def hook(self, name: str) -> str:
        """A hook script (active when executable); `<hook>.sample` files are inactive examples."""
        return self._at("hooks", name)

    # -- process, import and catalog (derived or resumable state)

    @property
    def imports(self) -> str:
        """The folder of interrupted imports' checkpoints."""
        return self._at("import")

    @_entry("import/<source>/unit-<n>.ckpt", "Import checkpoints")
    def import_checkpoint(self, source: str, n: int) -> str:
        """One finished unit of an import that has not ended yet: its staged rows."""
        return self._at("import", source, f"unit-{n:06d}.ckpt")

    def import_source(self, source: str) -> str:
        """The checkpoints of one import source (the folder of the entry above)."""
        return self._at("import", source)

    @_entry("process/cache/<cache>/<stage-hash>/<part>.parquet", "Feature cache")
    def feature_cache(self, stage: str, stage_hash: str) -> str:
        """The folder of one stage's cached per-blob results under one stage config; a part per run."""
        return self._at("process", "cache", stage, stage_hash)

    @property
    @_entry("process/ray.log", "Feature cache")
    def ray_log(self) -> str:
        """What Ray printed during the last `mmvc process` that started Ray here."""
        return self._at("process", "ray.log")

    @property
    @_entry("catalog/items.lance/**", "Catalog")
    def catalog_table(self) -> str:
        """The catalog: a plain Lance dataset (its insides are Lance's)."""
        return self._at("catalog", "items.lance")

    @property
    def catalog(self) -> str:
        """The catalog folder: the table and the scope cache."""
        return self._at("catalog")

    @property
    def scopes(self) -> str:
        """The folder of the scope cache."""
        return self._at("catalog", "scopes")

    @_entry("catalog/scopes/<tree>.arrow", "Catalog")
    def scope(self, tree: str) -> str:
        """Scope cache: one version tree's (key, item_id) table, Arrow IPC."""
        return self._at("catalog", "scopes", tree + ".arrow")

    @property
    @_entry("catalog.rebuild/**", "Catalog")
    def catalog_rebuild(self) -> str:
        """The catalog `mmvc catalog rebuild` is building; renamed onto `catalog/` when done."""
        return self._at("catalog.rebuild")

    @property
    @_entry("catalog.old/**", "Catalog")
    def catalog_aside(self) -> str:
        """A catalog being replaced or removed, moved aside before it is deleted."""
        return self._at("catalog.old")

    # -- the web UI's caches (derived, safe to delete)

    @property
    def ui_cache(self) -> str:
        """The folder of the web UI's caches (`mmvc ui`); deleting it only costs regeneration."""
        return self._at("ui")

    @_entry("ui/thumbs/<size>/<ab>/<id>.jpg", "UI cache")
    def ui_thumbnail(self, size: int, blob: str) -> str:
        """A blob's thumbnail at one size: a picture, a video's keyframe strip, an audio waveform
        or a text's first lines, as JPEG."""
        return self._at("ui", "thumbs", str(size), blob[:2], blob + ".jpg")

    @_entry("ui/datasheets/<commit>/<file>", "UI cache")
    def ui_datasheet(self, commit: str) -> str:
        """The folder of one version's datasheet as the UI shows it: `mmvc datasheet`'s Markdown
        and plots, and its summary as JSON."""
        return self._at("ui", "datasheets", commit)

    @property
    @_entry("cache/eval-summaries.bin", "Evaluations")
    def eval_summaries(self) -> str:
        """Per version, the summary of its evals and the key of the evals it was made from (derived)."""
        return self._at("cache", "eval-summaries.bin")

    @property
    @_entry("dedup/features.lance/**", "Dedup index")
    def dedup_table(self) -> str:
        """The dedup index: every committed item's dedup features, a plain Lance dataset read in
        from the dedup-features objects its history names."""
        return self._at("dedup", "features.lance")

    @property
    @_entry("dedup/synced", "Dedup index")
    def dedup_synced(self) -> str:
        """The dedup-features objects the dedup index has read in, one per line."""
        return self._at("dedup", "synced")

    # -- remotes

    def remote(self, name: str) -> str:
        """Everything kept locally about one remote (removed with it)."""
        return self._at("remotes", name)

    @_entry("remotes/<remote>/packs/pack-<name>.idx", "Remotes' local state")
    def remote_packs(self, name: str) -> str:
        """The folder of copies of a remote's pack indexes (a cache; immutable files)."""
        return self._at("remotes", name, "packs")

    # -- the whole map

    @staticmethod
    def entries() -> tuple[Entry, ...]:
        return tuple(_ENTRIES)

    def files(self) -> dict[str, Entry | None]:
        """Every file under this ``.mmvc/`` (relative, ``/``-separated) and the entry that
        describes it; None marks a file that no entry describes."""
        out: dict[str, Entry | None] = {}
        for dirpath, dirs, names in os.walk(self.dir):
            dirs.sort()
            for name in sorted(names):
                rel = os.path.relpath(os.path.join(dirpath, name), self.dir).replace(os.sep, "/")
                out[rel] = self.describe(rel)
        return out

    @staticmethod
    def describe(rel: str) -> Entry | None:
        """The entry a file belongs to, given its path relative to ``.mmvc/`` with ``/``
        separators; None for a file nothing describes."""
        if is_temp_name(rel.rpartition("/")[2]):
            return TEMP_ENTRY
        for e, rx in _compiled():
            if rx.fullmatch(rel):
                return e
        return None


# Not a path of its own: the temp name of any entry above while an atomic write replaces it.
TEMP_ENTRY = Entry("temp", "<folder>/.mmvc-tmp-<pid>-<hex>", "Temp files",
                   "An atomic write in progress in the folder of the file it becomes; garbage once its writer is gone.")
_ENTRIES.append(TEMP_ENTRY)
_RX: list = []


def _compiled():
    if not _RX:
        for e in _ENTRIES:
            if e is not TEMP_ENTRY:
                _RX.append((e, re.compile(_to_regex(e.pattern))))
    return _RX


def _to_regex(pattern: str) -> str:
    out, rest = "", pattern
    if rest.endswith("/**"):
        rest, tail = rest[:-3], "/.+"
    else:
        tail = ""
    for i, part in enumerate(re.split(r"(<[^>]+>)", rest)):
        if i % 2:
            out += ".+" if part.endswith("...>") else "[^/]+"
        else:
            out += re.escape(part)
    return out + tail
