"""What a repository can reach, and where every stored object lives.

``fsck`` and ``gc`` share this one walk so that they can never disagree: an object fsck counts
as reachable is exactly an object gc keeps. The walk starts from every name that can hold a
version (refs, HEAD, MERGE_HEAD/ORIG_HEAD, reflogs) and from the index (what the next commit
will hold), then follows commits → parents → trees → nodes → blobs. Manifest nodes shared by
many versions are visited once (one ``reached`` map for the whole walk), so checking a
thousand versions of a million items costs about what checking the union of their nodes costs.

The object store is scanned here rather than used through ``LocalObjectStore`` because a
damaged pack index must be a finding, not an exception that hides every other pack.
"""

from __future__ import annotations

import json
import os
from array import array
from collections import deque
from dataclasses import dataclass, field

from blake3 import blake3

from mmvc.core.atomicfile import is_temp_name
from mmvc.core.hashing import ID_RAW_LEN, is_object_id, new_hasher
from mmvc.core.layout import HEAD, SPECIAL_HEADS
from mmvc.core.pack import read_records
from mmvc.errors import CorruptError, FormatError

ZERO_HEX = "0" * 64
_MAX_TAG_DEPTH = 32


@dataclass
class Finding:
    """One thing fsck (or gc) has to say. ``versions``/``refs`` say what a bad object breaks."""

    severity: str  # "error" | "warning" | "info"
    kind: str  # missing, corrupt, malformed, size-mismatch, bad-pack, bad-pack-index, bad-ref, bad-head,
    #            bad-index, stale-lock, locked, leftover, orphan-pack, stale-index-base, unreachable
    message: str
    oid: str = ""
    what: str = ""  # commit, node, blob, tag, object (for object findings)
    path: str = ""  # an item key naming the blob, or a file under .mmvc
    versions: list[str] = field(default_factory=list)  # commit ids this breaks
    refs: list[str] = field(default_factory=list)  # names from which those versions are reached
    hint: str = ""
    count: int = 0  # aggregated findings (leftovers, unreachable objects)
    bytes: int = 0


@dataclass
class PackFile:
    idx_path: str
    pack_path: str
    index: object  # mmvc.core.pack.PackIndex
    mtime: float
    pack_size: int
    idx_size: int

    @property
    def digest(self) -> bytes:
        """The BLAKE3 of the .pack file, as its index records it."""
        return self.index.pack_digest


@dataclass
class Leftover:
    path: str
    size: int
    mtime: float
    kind: str  # tmp (objects/tmp), partial (an atomic write's temp), orphan-pack, stale-index-base


def _stat(path: str):
    try:
        return os.stat(path)
    except OSError:
        return None


class Inventory:
    """Every object file in a local store, scanned once, tolerant of damaged packs.

    ``where`` maps each packed raw id to ``pack number << 32 | position`` of its first copy
    (one dict lookup instead of a binary search in every pack: a repository that has not been
    gc'd may hold hundreds of packs)."""

    def __init__(self, objects_dir: str):
        from mmvc.core.pack import PackIndex

        self.root = objects_dir
        self.pack_dir = os.path.join(objects_dir, "pack")
        self.tmp_dir = os.path.join(objects_dir, "tmp")
        self.packs: list[PackFile] = []
        self.bad_packs: list[Finding] = []
        self.leftovers: list[Leftover] = []
        self.loose: dict[bytes, str] = {}
        self.where: dict[bytes, int] = {}
        try:
            names = sorted(os.listdir(self.pack_dir))
        except FileNotFoundError:
            names = []
        present = set(names)
        for name in names:
            full = os.path.join(self.pack_dir, name)
            if is_temp_name(name):
                self._leftover(full, "partial")
            elif name.endswith(".pack") and name[:-5] + ".idx" not in present:
                self._leftover(full, "orphan-pack")
            elif name.endswith(".idx"):
                pack_path = full[:-4] + ".pack"
                pst, ist = _stat(pack_path), _stat(full)
                if pst is None or ist is None:
                    self.bad_packs.append(Finding("error", "bad-pack", f"pack {name[:-4]} has an index but no pack file",
                                                  path=pack_path, hint="its objects are lost unless another copy exists (see the missing objects)"))
                    continue
                try:
                    idx = PackIndex(full)
                except (CorruptError, OSError, ValueError) as e:
                    msg = e.message if isinstance(e, CorruptError) else str(e)
                    self.bad_packs.append(Finding("error", "bad-pack-index", msg, path=full,
                                                  hint="the pack file is intact apart from its index; move both files aside and re-add the data"))
                    continue
                self.packs.append(PackFile(full, pack_path, idx, pst.st_mtime, pst.st_size, ist.st_size))
        self.offs: list[array] = []  # per pack: each record's data offset, by position in the index
        self.lens: list[array] = []  # ... and its length (columns decoded once, not per lookup)
        for n, p in enumerate(self.packs):
            idx = p.index
            self.offs.append(idx.offsets())
            self.lens.append(idx.lengths())
            blob = idx.raw_ids()
            base = n << 32
            setdefault = self.where.setdefault
            for i in range(idx.count):
                setdefault(blob[i * ID_RAW_LEN : (i + 1) * ID_RAW_LEN], base | i)
        self._scan_loose()
        try:
            for name in sorted(os.listdir(self.tmp_dir)):
                self._leftover(os.path.join(self.tmp_dir, name), "tmp")
        except FileNotFoundError:
            pass

    def _leftover(self, path: str, kind: str) -> None:
        st = _stat(path)
        if st is not None:
            self.leftovers.append(Leftover(path, st.st_size, st.st_mtime, kind))

    def _scan_loose(self) -> None:
        hexdigits = set("0123456789abcdef")
        if not os.path.isdir(self.root):
            return
        for a in sorted(os.listdir(self.root)):
            if len(a) != 2 or not set(a) <= hexdigits:
                continue
            da = os.path.join(self.root, a)
            if not os.path.isdir(da):
                continue
            for b in sorted(os.listdir(da)):
                db = os.path.join(da, b)
                if len(b) != 2 or not os.path.isdir(db):
                    continue
                for name in os.listdir(db):
                    if is_object_id(name):
                        self.loose[bytes.fromhex(name)] = os.path.join(db, name)
                    elif is_temp_name(name):
                        self._leftover(os.path.join(db, name), "partial")

    # -- lookups

    def has(self, raw: bytes) -> bool:
        return raw in self.where or raw in self.loose

    def locate(self, raw: bytes) -> tuple[PackFile, int] | None:
        loc = self.where.get(raw)
        if loc is None:
            return None
        return self.packs[loc >> 32], loc & 0xFFFFFFFF

    def location(self, loc: int) -> tuple[int, int]:
        """(offset, length) of the record a ``where`` value points at."""
        pn, i = loc >> 32, loc & 0xFFFFFFFF
        return self.offs[pn][i], self.lens[pn][i]

    def stored_size(self, raw: bytes) -> int | None:
        """Size of the stored copy, or None when there is none (or it cannot be stat'ed)."""
        loc = self.where.get(raw)
        if loc is not None:
            return self.lens[loc >> 32][loc & 0xFFFFFFFF]
        path = self.loose.get(raw)
        if path is None:
            return None
        st = _stat(path)
        return None if st is None else st.st_size

    def read(self, raw: bytes) -> bytes | None:
        """The object's bytes, or None when no copy can be read."""
        found = self.locate(raw)
        if found is not None:
            try:
                data = found[0].index.read(found[1])
            except OSError:
                data = None
            if data is not None and len(data) == self.lens[self.where[raw] >> 32][found[1]]:
                return data
        path = self.loose.get(raw)
        if path is not None:
            try:
                with open(path, "rb") as f:
                    return f.read()
            except OSError:
                return None
        return None

    def copies(self, raw: bytes):
        """Every (pack, position) holding ``raw``, in pack order (for picking an intact copy)."""
        for p in self.packs:
            i = p.index.find(raw)
            if i >= 0:
                yield p, i

    def all_ids(self):
        yield from self.where
        for raw in self.loose:
            if raw not in self.where:
                yield raw

    def close(self) -> None:
        for p in self.packs:
            p.index.close()


def hash_file(path: str) -> bytes | None:
    """BLAKE3 of a file, mapped and hashed on several threads; None when it cannot be read."""
    h = new_hasher()
    try:
        h.update_mmap(path)
    except (OSError, ValueError):
        return None
    return h.digest()


# --------------------------------------------------------------------------- roots


def _read_text(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


class Walk:
    """Everything reachable, found by walking from the roots. ``verify`` also re-hashes commits,
    nodes and tags as they are read (blobs are hashed afterwards, pack by pack, in file order)."""

    def __init__(self, repo, inv: Inventory, verify: bool = False):
        self.repo = repo
        self.inv = inv
        self.verify = verify
        # a partial clone: blobs its promisor remote holds may be absent here (docs/remote.md)
        self.partial = any(isinstance(s, dict) and s.get("promisor") for s in (repo.config.raw.get("remote") or {}).values())
        self.promised = 0
        self.roots: list[tuple[str, str]] = []  # (name, hex id) as written
        self.issues: list[Finding] = []  # problems that are not about one object
        self.blind: list[str] = []  # why the walk may not see everything (gc refuses to prune then)
        self.reached: dict[bytes, None] = {}  # insertion order = walk order
        self.bad: dict[bytes, Finding] = {}
        self.commits: dict[bytes, tuple[bytes, tuple[bytes, ...], bytes | None]] = {}  # raw -> (tree, parents, report)
        self.root_commits: dict[str, set[bytes]] = {}  # root name -> commits (or bad objects) it names
        self.tag_targets: dict[bytes, bytes] = {}  # annotated tag -> the object it names
        self.linked: list[tuple[str, str, tuple[str, ...]]] = []  # (root name, id, kinds) an eval or training run names besides its commit
        self.counts = {"commit": 0, "node": 0, "blob": 0, "tag": 0, "object": 0}
        self.to_hash: list[tuple[bytes, str]] = []  # (raw, what) of blob-like objects, hashed later
        self.index = None
        self.index_base = ""
        self.bytes_hashed = 0

    # -- roots

    def collect_roots(self) -> None:
        d, layout = self.repo.dir, self.repo.layout
        for dirpath, dirs, files in os.walk(layout.refs):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(dirpath, name)
                ref = os.path.relpath(full, d).replace(os.sep, "/")
                if is_temp_name(name):
                    self._leftover_file(full, "partial")
                    continue
                text = (_read_text(full) or "").strip()
                if is_object_id(text):
                    self.roots.append((ref, text))
                else:
                    self._issue("error", "bad-ref", f"ref {ref} is corrupt: {text[:80]!r}", path=full,
                                hint="fix or delete the file under .mmvc/refs", blind=True)
        head = _read_text(layout.head)
        if head is None:
            self._issue("error", "bad-head", ".mmvc/HEAD is missing", path=layout.head,
                        hint="restore it, e.g. `echo 'ref: refs/heads/main' > .mmvc/HEAD`", blind=True)
        else:
            text = head.strip()
            if text.startswith("ref: "):
                pass  # the branch it names is a ref (or unborn)
            elif is_object_id(text):
                self.roots.append((HEAD, text))
            else:
                self._issue("error", "bad-head", f".mmvc/HEAD holds neither a ref nor a commit id: {text[:80]!r}",
                            path=layout.head, hint="write `ref: refs/heads/<branch>` into it", blind=True)
        for name in SPECIAL_HEADS:
            text = _read_text(layout.special_head(name))
            if text is None:
                continue
            for line in text.splitlines():
                tok = line.split()[0] if line.split() else ""
                if is_object_id(tok):
                    self.roots.append((name, tok))
                elif tok:
                    self._issue("error", "bad-ref", f".mmvc/{name} is corrupt: {line[:80]!r}", path=layout.special_head(name),
                                hint=f"delete .mmvc/{name} if no merge is in progress", blind=True)
        state = _read_text(layout.merge_state)
        if state:
            try:
                doc = json.loads(state)
            except ValueError:
                doc = {}
            for key in ("base", "ours", "theirs"):
                v = doc.get(key) if isinstance(doc, dict) else None
                if isinstance(v, str) and is_object_id(v):
                    self.roots.append((os.path.basename(layout.merge_state), v))
        for dirpath, dirs, files in os.walk(layout.logs):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(dirpath, name)
                if is_temp_name(name):
                    self._leftover_file(full, "partial")
                    continue
                rel = os.path.relpath(full, d).replace(os.sep, "/")
                for line in (_read_text(full) or "").splitlines():
                    parts = line.split(None, 2)
                    for tok in parts[:2]:
                        if is_object_id(tok) and tok != ZERO_HEX:
                            self.roots.append((rel, tok))

    def _leftover_file(self, path: str, kind: str) -> None:
        st = _stat(path)
        if st is not None:
            self.inv.leftovers.append(Leftover(path, st.st_size, st.st_mtime, kind))

    def _issue(self, severity, kind, message, blind=False, **kw) -> None:
        self.issues.append(Finding(severity, kind, message, **kw))
        if blind:
            self.blind.append(message)

    # -- objects

    def _bad(self, raw: bytes, kind: str, what: str, message: str, path: str = "") -> None:
        if raw not in self.bad:
            self.bad[raw] = Finding("error", kind, message, oid=raw.hex(), what=what, path=path)
        if what in ("commit", "node", "tag"):
            self.blind.append(message)

    def _load(self, raw: bytes, what: str) -> bytes | None:
        """A structural object's bytes (checked against its id in verify mode), or None."""
        data = self.inv.read(raw)
        if data is None:
            self._bad(raw, "missing", what, f"missing {what} {raw.hex()}")
            return None
        if self.verify:
            self.bytes_hashed += len(data)
            if blake3(data).digest() != raw:
                self._bad(raw, "corrupt", what, f"corrupt {what} {raw.hex()} (its bytes no longer hash to its id)")
                return None
        return data

    def _mark_blob(self, raw: bytes, what: str, path: str = "", size: int | None = None) -> None:
        """Reach a leaf object (blob, report, process result): present, right size, hashed later."""
        self.reached[raw] = None
        self.counts["blob" if what == "blob" else "object"] += 1
        stored = self.inv.stored_size(raw)
        if stored is None and self.partial and what == "blob":
            self.promised += 1
            return
        if stored is None:
            self._bad(raw, "missing", what, f"missing {what} {raw.hex()}" + (f" ({path})" if path else ""), path)
            return
        if size is not None and stored != size:
            self._bad(raw, "size-mismatch", what,
                      f"{what} {raw.hex()} ({path}) holds {stored} bytes where its version records {size}", path)
            return
        if self.verify:
            self.to_hash.append((raw, what))

    def _start(self, name: str, hexid: str, queue: deque, trees: list, kinds: tuple[str, ...] | None = None) -> None:
        """Peel a root down to a commit (following annotated tags, recipes, evals and training-run
        records) and queue it. ``kinds``: what the root may name (default: by its name)."""
        raw = bytes.fromhex(hexid)
        named = self.root_commits.setdefault(name, set())
        allowed = kinds or _root_kinds(name)
        for _ in range(_MAX_TAG_DEPTH):
            named.add(raw)
            if raw in self.tag_targets:  # a tag already followed from another name
                raw = self.tag_targets[raw]
                continue
            if raw in self.reached or raw in self.bad:
                return  # already walked from another name
            data = self._load(raw, "commit")
            if data is None:
                return
            kind, target, linked = _version_tip(data, raw.hex(), allowed)
            allowed = _VERSION_TIPS
            if kind in ("tag", "recipe", "eval", "training-run"):
                self.reached[raw] = None
                self.counts["tag"] += 1
                if not isinstance(target, str) or not is_object_id(target):
                    self._bad(raw, "malformed", "tag", f"{kind} object {raw.hex()} names no commit")
                    return
                self.linked.extend((name, o, k) for o, k in linked)
                self.tag_targets[raw] = bytes.fromhex(target)
                raw = self.tag_targets[raw]
                continue
            if kind == "commit":
                self._commit(raw, data, queue, trees)
                return
            self._bad(raw, "malformed", "commit", f"object {raw.hex()} named by {name} is not a {_kinds_text(kinds or _root_kinds(name))}")
            return
        self._bad(raw, "malformed", "tag", f"tag chain from {name} is longer than {_MAX_TAG_DEPTH}")

    def _commit(self, raw: bytes, data: bytes, queue: deque, trees: list) -> None:
        from mmvc.core.objects import Commit

        try:
            c = Commit.decode(data, raw.hex())
            ids = [c.tree, *c.parents] + ([c.gate.report] if c.gate.report else []) + ([c.gate.dedup] if c.gate.dedup else [])
            if not all(isinstance(x, str) and is_object_id(x) for x in ids):
                raise CorruptError(f"commit {raw.hex()} names an invalid object id")
        except CorruptError as e:
            self._bad(raw, "malformed", "commit", e.message)
            return
        self.reached[raw] = None
        self.counts["commit"] += 1
        parents = tuple(bytes.fromhex(p) for p in c.parents)
        tree = bytes.fromhex(c.tree)
        report = bytes.fromhex(c.gate.report) if c.gate.report else None
        self.commits[raw] = (tree, parents, report)
        trees.append((tree, raw))
        if report is not None and report not in self.reached:
            self._mark_blob(report, "object")
        if c.gate.dedup and bytes.fromhex(c.gate.dedup) not in self.reached:  # a leaf, like the report
            self._mark_blob(bytes.fromhex(c.gate.dedup), "object")
        queue.extend(p for p in parents if p not in self.reached and p not in self.bad)

    def run(self) -> Walk:
        self.collect_roots()
        queue: deque = deque()
        trees: list = []
        for name, hexid in self.roots:
            self._start(name, hexid, queue, trees)
        while self.linked:
            name, hexid, kinds = self.linked.pop()
            self._start(name, hexid, queue, trees, kinds)
        while queue:
            raw = queue.popleft()
            if raw in self.reached or raw in self.bad:
                continue
            data = self._load(raw, "commit")
            if data is None:
                continue
            kind, _, _ = _version_tip(data, raw.hex(), _VERSION_TIPS)
            if kind != "commit":
                self._bad(raw, "malformed", "commit", f"object {raw.hex()} is named as a commit but is {'a ' + kind if kind else 'not one'}")
                continue
            self._commit(raw, data, queue, trees)
        for tree, _ in trees:
            self._walk_tree(tree)
        self._walk_index()
        self._scan_repo_leftovers()
        return self

    def _scan_repo_leftovers(self) -> None:
        """Temp files of interrupted atomic writes in .mmvc/ and index.d/, and index bases the
        index no longer names (left when a writer died between writing a base and the index)."""
        d = self.repo.dir
        for name in sorted(os.listdir(d)):
            if is_temp_name(name):
                self._leftover_file(os.path.join(d, name), "partial")
        base_dir = self.repo.layout.index_bases
        try:
            names = sorted(os.listdir(base_dir))
        except FileNotFoundError:
            names = []
        for name in names:
            full = os.path.join(base_dir, name)
            if is_temp_name(name):
                self._leftover_file(full, "partial")
            elif name.endswith(".base") and self.index is not None and name != self.index_base + ".base":
                self._leftover_file(full, "stale-index-base")

    def _walk_tree(self, root: bytes) -> None:
        from mmvc.core.manifest import decode_node

        if root in self.reached or root in self.bad:
            return
        stack = [(root, None)]
        reached = self.reached
        where, lens, counts, verify, to_hash = self.inv.where, self.inv.lens, self.counts, self.verify, self.to_hash
        while stack:
            raw, level = stack.pop()
            if raw in reached or raw in self.bad:
                continue
            data = self._load(raw, "node")
            if data is None:
                continue
            try:
                node = decode_node(data, raw.hex())
            except CorruptError as e:
                self._bad(raw, "malformed", "node", e.message)
                continue
            if level is not None and node.level != level:
                self._bad(raw, "malformed", "node", f"manifest node {raw.hex()} is at level {node.level} where {level} was expected")
                continue
            reached[raw] = None
            self.counts["node"] += 1
            if node.is_leaf:
                for it in node.items:
                    b = it[1]
                    if b in reached:
                        continue
                    loc = where.get(b)
                    if loc is not None and lens[loc >> 32][loc & 0xFFFFFFFF] == it[2]:  # the common case, inline
                        reached[b] = None
                        counts["blob"] += 1
                        if verify:
                            to_hash.append((b, "blob"))
                    else:
                        self._mark_blob(b, "blob", it[0], it[2])
            else:
                for it in reversed(node.items):
                    if it[1] not in reached:
                        stack.append((it[1], node.level - 1))

    def _walk_index(self) -> None:
        from mmvc.core.index import Index

        try:
            self.index = Index.load(self.repo.dir)
            base = self.index.base
        except (CorruptError, FormatError) as e:
            self._issue("error", "bad-index", e.message, path=self.repo.layout.index, hint=e.hint or "", blind=True)
            self.index = None
            return
        self.index_base = self.index.base_id
        reached = self.reached
        runs: set[bytes] = set()
        for e in self.index.overlay.values():
            if e is None:
                continue
            b = bytes.fromhex(e.oid)
            if b not in reached:
                self._mark_blob(b, "blob", e.path, e.size)
            if e.proc_id:
                p = bytes.fromhex(e.proc_id)
                if p not in reached:
                    self._mark_blob(p, "object", e.path)
                    runs.add(p)
        ids, pids = bytes(base.ids), bytes(base.proc_ids)
        zero = bytes(ID_RAW_LEN)
        for i in range(len(base)):
            b = ids[i * ID_RAW_LEN : (i + 1) * ID_RAW_LEN]
            if b not in reached:
                self._mark_blob(b, "blob", base.paths[i], base.sizes[i])
            p = pids[i * ID_RAW_LEN : (i + 1) * ID_RAW_LEN]
            if p != zero and p not in reached:
                self._mark_blob(p, "object", base.paths[i])
                runs.add(p)
        self._walk_runs(runs)

    def _walk_runs(self, runs: set[bytes]) -> None:
        """The report each process run the index names: the next commit will name it."""
        from mmvc.core.objects import decode_run

        for raw in sorted(runs):
            data = self.inv.read(raw)
            if data is None:
                continue  # already a finding
            try:
                report = decode_run(data, raw.hex()).get("report")
            except CorruptError as e:
                self._bad(raw, "malformed", "object", e.message)
                continue
            if isinstance(report, str) and is_object_id(report) and bytes.fromhex(report) not in self.reached:
                self._mark_blob(bytes.fromhex(report), "object")

    def index_ids(self):
        """(raw id, path) of everything the index names (for saying what a bad object breaks)."""
        if self.index is None:
            return
        for p, e in sorted(self.index.overlay.items()):
            if e is not None:
                yield bytes.fromhex(e.oid), p
                if e.proc_id:
                    yield bytes.fromhex(e.proc_id), p
        base = self.index.base
        ids, pids = bytes(base.ids), bytes(base.proc_ids)
        zero = bytes(ID_RAW_LEN)
        for i in range(len(base)):
            if base.paths[i] in self.index.overlay:
                continue
            yield ids[i * ID_RAW_LEN : (i + 1) * ID_RAW_LEN], base.paths[i]
            p = pids[i * ID_RAW_LEN : (i + 1) * ID_RAW_LEN]
            if p != zero:
                yield p, base.paths[i]

    # -- full verification of leaf objects

    def hash_leaves(self, progress=None) -> None:
        """Re-hash every reached blob: packed ones pack by pack in file order, loose ones streamed."""
        per_pack: dict[int, list] = {}
        loose: list[tuple[bytes, str]] = []
        total = 0
        for raw, what in self.to_hash:
            loc = self.inv.where.get(raw)
            if loc is not None:
                off, length = self.inv.location(loc)
                per_pack.setdefault(loc >> 32, []).append((off, length, raw))
                total += length
            else:
                loose.append((raw, what))
                total += self.inv.stored_size(raw) or 0
        kinds = dict(self.to_hash)
        done = nbytes = 0
        n = len(self.to_hash)
        for pn, wanted in sorted(per_pack.items()):
            for raw, data in read_records(self.inv.packs[pn].pack_path, wanted):
                done += 1
                if data is None or blake3(data).digest() != raw:
                    self._corrupt_leaf(raw, kinds[raw], "truncated" if data is None else "")
                else:
                    nbytes += len(data)
                if progress and done & 1023 == 0:
                    progress(done, nbytes, n, total)
        for raw, what in loose:
            path = self.inv.loose[raw]
            digest = hash_file(path)
            done += 1
            size = _stat(path)
            nbytes += size.st_size if size else 0
            if digest != raw:
                self._corrupt_leaf(raw, what, "unreadable" if digest is None else "")
            if progress:
                progress(done, nbytes, n, total)
        self.bytes_hashed += nbytes
        if progress:
            progress(n, nbytes, n, total)

    def _corrupt_leaf(self, raw: bytes, what: str, why: str) -> None:
        why = why or "its bytes no longer hash to its id"
        self._bad(raw, "corrupt", what, f"corrupt {what} {raw.hex()} ({why})")

    # -- what bad objects break

    def attribute(self) -> None:
        """Fill each bad object's ``versions`` (commits whose content needs it) and ``refs``
        (names from which those commits are reached). Runs only when something is bad; a
        second pass over the good nodes, memoised so shared subtrees are read once."""
        from mmvc.core.manifest import decode_node

        if not self.bad:
            return
        bad = self.bad
        memo: dict[bytes, frozenset] = {}
        empty: frozenset = frozenset()

        def under(raw: bytes) -> frozenset:
            if raw in bad:
                return frozenset((raw,))
            got = memo.get(raw)
            if got is not None:
                return got
            data = self.inv.read(raw)
            acc: set = set()
            if data is not None:
                node = decode_node(data, raw.hex())
                if node.is_leaf:
                    acc.update(it[1] for it in node.items if it[1] in bad)
                else:
                    for it in node.items:
                        acc |= under(it[1])
            memo[raw] = res = frozenset(acc) if acc else empty
            return res

        breaks: dict[bytes, set] = {}  # commit -> bad objects its version needs
        for c, (tree, _parents, report) in self.commits.items():
            s = set(under(tree))
            if report is not None and report in bad:
                s.add(report)
            if s:
                breaks[c] = s
        for raw, f in bad.items():
            if f.what == "commit":
                breaks.setdefault(raw, set()).add(raw)
        # which names reach each commit
        reach: dict[bytes, set[str]] = {}
        for name, starts in self.root_commits.items():
            seen: set = set()
            todo = list(starts)
            while todo:
                c = todo.pop()
                if c in seen:
                    continue
                seen.add(c)
                reach.setdefault(c, set()).add(name)
                info = self.commits.get(c)
                if info is not None:
                    todo.extend(info[1])
        by_obj: dict[bytes, list[bytes]] = {}
        for c, objs in breaks.items():
            for o in objs:
                by_obj.setdefault(o, []).append(c)
        for raw, f in bad.items():
            cs = by_obj.get(raw, [])
            f.versions = sorted(c.hex() for c in cs)
            names: set[str] = set()
            for c in cs:
                names |= reach.get(c, set())
            names |= {n for n, starts in self.root_commits.items() if raw in starts}
            f.refs = sorted(names)
        for raw, path in self.index_ids():
            f = bad.get(raw)
            if f is not None and "index" not in f.refs:
                f.refs.append("index")
                if not f.path:
                    f.path = path


_VERSION_TIPS = ("commit", "tag", "recipe")  # what a branch, a tag, a reflog line or a parent may name


def _root_kinds(name: str) -> tuple[str, ...]:
    """The kinds a root may name, by the ref (or the reflog of the ref) it comes from."""
    from mmvc.core.layout import EVALS, RUNS

    ref = name[len("logs/"):] if name.startswith("logs/") else name
    if ref.startswith(EVALS):
        return ("eval",)
    if ref.startswith(RUNS):
        return ("training-run",)
    return _VERSION_TIPS


def _kinds_text(kinds: tuple[str, ...]) -> str:
    """``commit, tag or recipe``."""
    names = [k if k != "training-run" else "training-run record" for k in kinds]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _version_tip(data: bytes, oid: str, allowed: tuple[str, ...]) -> tuple[str | None, str | None, list[tuple[str, tuple[str, ...]]]]:
    """What an object a ref, a reflog or a parent names is, among the kinds ``allowed``: (its
    kind, the commit or tag a tag, recipe, eval or training-run record names, the other objects
    an eval or record keeps alive with the kinds each may be), or (None, None, []) when it is
    none of them (docs/format.md, "Objects")."""
    from mmvc.core.objects import EVAL, RECIPE, TAG, TRAINING_RUN, Tag, kind_of, recipe_commit

    kind = kind_of(data, allowed)
    try:
        if kind == TAG:
            return kind, Tag.decode(data, oid).object, []
        if kind == RECIPE:
            return kind, recipe_commit(data, oid), []
        if kind == EVAL:
            from mmvc.core.evals import Eval

            e = Eval.decode(data, oid)
            linked = [(o, (k,)) for o, k in ((e.run_record, TRAINING_RUN), (e.recipe, RECIPE)) if o]
            return kind, e.commit, [(o, k) for o, k in linked if is_object_id(o)]
        if kind == TRAINING_RUN:
            from mmvc.core.training_runs import TrainingRun

            r = TrainingRun.decode(data, oid)
            linked = [(o, (k,)) for o, k in ((r.previous, TRAINING_RUN), (r.recipe, RECIPE)) if o]
            return kind, r.commit, [(o, k) for o, k in linked if is_object_id(o)]
    except CorruptError:
        return kind, None, []
    return kind, None, []
