"""The gate of a merge (and so of a pull): the items each side brings are checked against the
other side's by every dedup tier of the pipeline, under the repository's current process config
(docs/process.md, "The gate"). Duplicates across the two sides are curation conflicts."""

from __future__ import annotations

from mmvc.services.gate import CurationConflict


def curate_merge(repo, ours: list, theirs: list) -> list[CurationConflict]:
    """The gate of a merge: ``ours`` and ``theirs`` are the manifest entries each side brings
    into the merged tree (changed since the merge base, path conflicts left out). Every pair of
    duplicates across the two, under the repository's current process config; none in an
    ungated repository (the caller says so)."""
    if not repo.config.gated or not ours or not theirs:
        return []
    import json

    from mmvc.process.config import ProcessConfig
    from mmvc.process.pipeline import ItemRef, Pipeline

    def refs(entries, tag):
        return [ItemRef(tag + e.path, e.oid, e.modality, e.size, json.loads(e.meta) if e.meta else {}) for e in entries]

    pairs = Pipeline(repo, ProcessConfig.load(repo)).cross_duplicates(refs(ours, "ours\0"), refs(theirs, "theirs\0"))
    out = [CurationConflict(a.split("\0", 1)[1], b.split("\0", 1)[1], tier, detail) for a, b, tier, detail in pairs]
    return sorted(out, key=lambda c: (c.theirs, c.ours))
