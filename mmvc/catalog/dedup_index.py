"""The history-wide dedup index: every committed item's dedup features in one Lance table.

The truth travels as objects: each gated commit names, in ``gate.dedup``, a ``dedup-features``
object holding the features of the items it admitted (``mmvc.process.dedupfeatures``), so push,
fetch and clone carry them like the commit's report. The Lance table at ``.mmvc/dedup/
features.lance`` is this clone's searchable copy of the objects its history names: commit writes
its own rows into it, and ``sync`` (run by every ``process``) reads in the objects of commits it
has not seen yet (a clone's, a fetch's), so a fresh clone dedups against upstream's whole
history without processing any of it. ``dedup/synced`` lists the objects already read in. The
table is derived: deleting it costs a re-read of the objects (``mmvc catalog rebuild`` does that).
Format: docs/format.md, "Dedup index".
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

_BATCH = 65_536


@dataclass
class Coverage:
    """What ``sync`` found of the history behind a commit."""

    complete: bool = True  # every item that history admitted has features under the current config
    segments: int = 0  # dedup-features objects behind the commit
    read_in: int = 0  # of them, read into the table by this sync
    legacy: list = field(default_factory=list)  # commits that admitted processed items but name no features
    other_configs: set = field(default_factory=set)  # dedup configs of rows that are not the current one


class DedupIndex:
    def __init__(self, repo, config: str = ""):
        """``config``: the dedup config hash (``dedupfeatures.dedup_config``) lookups and
        coverage are under (writing needs none)."""
        self.repo = repo
        self.config = config
        self.path = repo.layout.dedup_table
        self.synced_path = repo.layout.dedup_synced

    # -- the synced list

    def _synced(self) -> dict[str, set[str]]:
        """segment id -> the dedup configs of its rows."""
        out: dict[str, set[str]] = {}
        try:
            with open(self.synced_path, encoding="ascii") as f:
                for line in f:
                    seg, _, configs = line.strip().partition(" ")
                    if seg:
                        out[seg] = set(filter(None, configs.split(",")))
        except FileNotFoundError:
            pass
        if out and not os.path.isdir(self.path):
            return {}  # the table is gone: every object is read in again
        return out

    def _mark(self, seen: dict[str, set[str]]) -> None:
        from mmvc.core.atomicfile import atomic_write

        os.makedirs(os.path.dirname(self.synced_path), exist_ok=True)
        atomic_write(self.synced_path, "".join(f"{s} {','.join(sorted(c))}\n" for s, c in sorted(seen.items())).encode("ascii"),
                     fsync=False)

    # -- writing

    def ingest(self, segment: str, table) -> int:
        """Add one dedup-features object's rows (keyed by blob id and config: present ones are
        left as they are); returns the rows added."""
        seen = self._synced()
        n = self._insert(table)
        seen[segment] = set(table.column("config").to_pylist())
        self._mark(seen)
        return n

    def _insert(self, table) -> int:
        import lance
        import pyarrow.compute as pc

        from mmvc.process.dedupfeatures import arrow_schema

        if table.num_rows == 0:
            return 0
        table = table.cast(arrow_schema())
        ids = pc.binary_join_element_wise(table.column("oid"), table.column("config"), ":")
        table = table.append_column("row_id", ids)
        if not os.path.isdir(self.path):
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            lance.write_dataset(_unique(table), self.path, schema=table.schema, mode="create")
            return table.num_rows
        try:
            stats = lance.dataset(self.path).merge_insert("row_id").when_not_matched_insert_all().execute(_unique(table))
        except Exception as e:
            raise _unreadable(e) from None
        return int(stats.get("num_inserted_rows", table.num_rows)) if isinstance(stats, dict) else table.num_rows

    def sync(self, commit: str | None) -> Coverage:
        """Read in the dedup-features objects of every commit behind ``commit`` that the table
        does not hold yet, and say whether the history is wholly covered under the current
        config (if not, ``process`` compares with the items it can: see docs/process.md)."""
        from collections import deque

        from mmvc.core.objects import dedup_features_parquet
        from mmvc.errors import CorruptError, MmvcError
        from mmvc.process.dedupfeatures import decode

        cov = Coverage()
        if not commit:
            return cov
        seen = self._synced()
        changed = False
        visited: set[str] = set()
        queue = deque([commit])
        while queue:
            oid = queue.popleft()
            if oid in visited:
                continue
            visited.add(oid)
            c = self.repo.read_commit(oid)
            queue.extend(c.parents)
            gate = c.gate
            if gate.mode != "gated" or not gate.report:
                continue
            if not gate.dedup:
                cov.legacy.append(oid)
                continue
            cov.segments += 1
            if gate.dedup not in seen:
                try:
                    table = decode(dedup_features_parquet(self.repo.store.get(gate.dedup), gate.dedup))
                except MmvcError as e:
                    raise CorruptError(f"commit {oid[:12]}'s dedup features ({gate.dedup[:12]}) cannot be read: {e.message}",
                                       "`mmvc fetch` brings them from the remote it came from; `mmvc fsck` lists what else is missing") from None
                self._insert(table)
                seen[gate.dedup] = set(table.column("config").to_pylist())
                cov.read_in += 1
                changed = True
            cov.other_configs |= seen[gate.dedup] - {self.config}
        if changed:
            self._mark(seen)
        cov.complete = not cov.legacy and not cov.other_configs
        return cov

    # -- reading

    def scan(self, columns: list[str]):
        """Record batches of ``columns`` (and "oid", "modality") of the rows under the current
        config, ``_BATCH`` rows at a time: memory stays flat whatever the history's size."""
        if not os.path.isdir(self.path):
            return
        import lance

        try:
            ds = lance.dataset(self.path)
        except Exception as e:
            raise _unreadable(e) from None
        cols = list(dict.fromkeys(["oid", "modality", *columns]))
        yield from ds.to_batches(columns=cols, filter=f"config = '{self.config}'", batch_size=_BATCH)

    def rows(self) -> int:
        if not os.path.isdir(self.path):
            return 0
        import lance

        return lance.dataset(self.path).count_rows()

    def remove(self) -> None:
        shutil.rmtree(os.path.dirname(self.path), ignore_errors=True)


def _unreadable(e: Exception):
    from mmvc.errors import CorruptError

    first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
    return CorruptError(f"the dedup index at .mmvc/dedup is unreadable ({first})",
                        "run `mmvc catalog rebuild`: it reads the index in again from the commits' dedup features")


def _unique(table):
    import pyarrow.compute as pc

    ids = table.column("row_id")
    if pc.count_distinct(ids).as_py() == table.num_rows:
        return table
    seen, keep = set(), []
    for i, r in enumerate(ids.to_pylist()):
        if r not in seen:
            seen.add(r)
            keep.append(i)
    return table.take(keep)


def write_commit_features(repo, admitted, gate, writer):
    """At commit: the dedup-features object of the items a gated commit admits ((path, entry)
    pairs, read once), written with ``writer`` (the commit's own pack); returns (object id, its
    table) or (None, None) where the commit names no report (nothing processed crosses)."""
    if gate.mode != "gated" or not gate.report:
        return None, None
    from mmvc.core.extras import require

    require("catalog", "pyarrow", "lance", what="a gated commit")
    import pyarrow as pa

    from mmvc.core.objects import encode_dedup_features
    from mmvc.process.dedupfeatures import arrow_schema, encode, features_table
    from mmvc.services.runs import read_run

    runs: dict[str, dict] = {}
    by_doc: dict[str | None, tuple[dict, list]] = {}
    for _, e in admitted:
        if e is None or not getattr(e, "proc_id", None):
            continue
        run = runs.get(e.proc_id) or runs.setdefault(e.proc_id, read_run(repo, e.proc_id))
        doc = run.get("config_doc")
        if not doc:
            continue
        by_doc.setdefault(run.get("config"), (doc, []))[1].append((e.oid, e.modality))
    tables = [features_table(repo, items, doc) for doc, items in by_doc.values()]
    table = pa.concat_tables(tables) if tables else arrow_schema().empty_table()
    return writer.put_bytes(encode_dedup_features(encode(table))), table
