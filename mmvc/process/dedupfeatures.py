"""Dedup features of committed items: what the history-wide dedup index keeps of each item so
that a later ``process`` (in this clone or any other) can compare new items with everything
already committed without reading, decoding or embedding those items again.

Per item (keyed by blob id and the dedup config it was computed under): the text's word-shingle
set and its LSH band keys, the picture's pHash, the video's keyframe pHashes, the audio
landmark set and its band keys, and the item's vectors. The shingle and landmark sets are kept
whole because the near tier verifies every candidate by exact Jaccard; the band keys are what
candidates are found by. docs/format.md, "Dedup index", is the format.

This module only computes and reads those features (numpy, pyarrow). Where the table lives (a
Lance dataset) and how it travels (a ``dedup-features`` object per commit) is the catalog's
business (``mmvc.catalog.dedup_index``); the pipeline sees a history as the ``History``
protocol below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from mmvc.core.families import CLIP_FAMILY, TEXT_FAMILY
from mmvc.core.modality import AUDIO, IMAGE, TEXT, VIDEO

FEATURES_FORMAT = 1
NEAR_COLUMNS = ("oid", "modality", "shingles", "bands", "phash", "video_sig", "audio_fp")


def dedup_config(config_doc: dict) -> str:
    """The hash of what an item's dedup features depend on: decoding and fingerprints (the
    gates stage, as the prep cache is keyed), the near-tier settings (shingles, MinHash, bands)
    and the embedding models. Thresholds that only judge (eps, keep) are not in it."""
    from mmvc.process.cache import stage_key

    parts = {s: config_doc.get(s) for s in ("gates", "neardup", TEXT_FAMILY.stage, CLIP_FAMILY.stage)}
    return stage_key("dedup-features", {"v": FEATURES_FORMAT, **parts})


def neardup_config(config_doc: dict):
    from mmvc.process.neardup import NearDupConfig

    return NearDupConfig(**{k: v for k, v in config_doc["neardup"]["neardup"].items() if k != "algorithm"})


def arrow_schema():
    import pyarrow as pa

    u64, i64 = pa.uint64(), pa.int64()
    return pa.schema([
        ("oid", pa.string()), ("modality", pa.int8()), ("config", pa.string()),
        ("shingles", pa.list_(u64)), ("bands", pa.list_(u64)), ("phash", i64),
        ("video_sig", pa.list_(i64)), ("audio_fp", pa.list_(i64)),
        (TEXT_FAMILY.column, pa.list_(pa.float32(), TEXT_FAMILY.width)),
        (CLIP_FAMILY.column, pa.list_(pa.float32(), CLIP_FAMILY.width)),
    ], metadata={b"mmvc.dedup.format": str(FEATURES_FORMAT).encode()})


def features_table(repo, items: list[tuple[str, int]], config_doc: dict):
    """The dedup features of ``items`` ((blob id, modality) pairs that passed ``process`` under
    ``config_doc``), from the feature cache that run filled. An item the cache no longer holds
    gets no row (it is then compared with nothing later, as before this index existed)."""
    import numpy as np
    import pyarrow as pa

    from mmvc.process.cache import PREP, FeatureCache
    from mmvc.process.neardup import set_band_keys, text_shingle_sets

    cfg = neardup_config(config_doc)
    config = dedup_config(config_doc)
    mods = dict(items)
    prep = FeatureCache(repo, PREP, config_doc).load(set(mods), columns=["status", "text", "phash", "video_sig", "audio_fp"])
    oids = sorted(o for o, r in prep.items() if r.get("status") == "ok")
    vectors = {}
    for fam in (TEXT_FAMILY, CLIP_FAMILY):
        on = config_doc.get(fam.stage, {}).get("on", True)
        want = {o for o in oids if mods[o] in fam.modalities}
        rows = FeatureCache(repo, fam.stage, config_doc).load(want, columns=["vector"]) if on and want else {}
        vectors[fam.column] = {o: r["vector"] for o, r in rows.items() if r.get("vector") is not None}
    texts = [o for o in oids if mods[o] == TEXT and prep[o].get("text")]
    sets = dict(zip(texts, text_shingle_sets([prep[o]["text"] for o in texts], cfg)))
    bands = dict(zip(texts, set_band_keys([sets[o] for o in texts], cfg)))
    sounds = [o for o in oids if mods[o] == AUDIO and prep[o].get("audio_fp")]
    bands.update(zip(sounds, set_band_keys([np.array(prep[o]["audio_fp"], dtype=np.int64).view(np.uint64) for o in sounds], cfg, audio=True)))
    cols = {
        "oid": oids, "modality": [mods[o] for o in oids], "config": [config] * len(oids),
        "shingles": [sets[o].tolist() if o in sets else None for o in oids],
        "bands": [bands[o].tolist() if o in bands else None for o in oids],
        "phash": [prep[o].get("phash") for o in oids],
        "video_sig": [prep[o].get("video_sig") for o in oids],
        "audio_fp": [prep[o].get("audio_fp") for o in oids],
    }
    for fam in (TEXT_FAMILY, CLIP_FAMILY):
        got = vectors[fam.column]
        cols[fam.column] = [got[o].tolist() if o in got else None for o in oids]
    return pa.table(cols, schema=arrow_schema())


def encode(table) -> bytes:
    """A features table as the body of a ``dedup-features`` object: zstd Parquet."""
    import io

    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table.cast(arrow_schema()), buf, compression="zstd")
    return buf.getvalue()


def decode(body: bytes):
    import io

    import pyarrow.parquet as pq

    return pq.ParquetFile(io.BytesIO(body)).read().cast(arrow_schema())


class History(Protocol):
    """The committed items a ``process`` compares staged items with (the dedup index)."""

    def scan(self, columns: list[str]) -> Iterator:
        """Record batches of ``columns`` (always with "oid" and "modality") of every indexed
        item under the run's dedup config, a bounded batch at a time."""
        ...


def near_anchor_rows(scan: Callable[[list[str]], Iterator], staged: dict[str, tuple[int, dict]], head: dict[str, str], cfg,
                     max_rounds: int = 4) -> dict[str, dict]:
    """Prep-like rows (status, text as a shingle set, phash, video_sig, audio_fp) of the items
    in ``head`` (blob id -> path) that could join a near-tier group of a staged item: those
    sharing a band key with it (texts, audio), or within ``cfg``'s Hamming radius of its pHash
    or of one of its keyframes. Found items are searched from in turn (a group can chain
    through committed items) until nothing new turns up. ``staged``: blob id -> (modality,
    prep row; a text may be given as its shingle set). Only candidates are returned; ``near_groups`` decides, exactly as it would over
    all of history, since an item outside every candidate chain cannot share a group."""
    import numpy as np

    from mmvc.process.neardup import set_band_keys, text_shingle_sets, within_hamming

    texts = [r["text"] for m, r in staged.values() if m == TEXT and r.get("text") is not None and len(r["text"])]
    sets = text_shingle_sets([t for t in texts if isinstance(t, str)], cfg) + [t for t in texts if not isinstance(t, str)]
    keys = [k for s in set_band_keys(sets, cfg) for k in s.tolist()] if sets else []
    sounds = [np.array(r["audio_fp"], dtype=np.int64).view(np.uint64) for m, r in staged.values() if m == AUDIO and r.get("audio_fp")]
    keys += [k for s in set_band_keys(sounds, cfg, audio=True) for k in s.tolist()] if sounds else []
    pics = [r["phash"] for m, r in staged.values() if m == IMAGE and r.get("phash") is not None]
    frames = [h for m, r in staged.values() if m == VIDEO and r.get("video_sig") for h in r["video_sig"] if h]
    found: dict[str, dict] = {}
    q = (np.unique(np.array(keys, dtype=np.uint64)), np.array(pics, dtype=np.int64).view(np.uint64),
         np.array(frames, dtype=np.int64).view(np.uint64))
    for _ in range(max_rounds):
        if not any(x.size for x in q):
            break
        new: dict[str, dict] = {}
        for batch in scan(list(NEAR_COLUMNS)):
            oids = batch.column("oid").to_pylist()
            in_head = np.fromiter((o in head and o not in found for o in oids), dtype=bool, count=len(oids))
            if not in_head.any():
                continue
            hit = np.zeros(len(oids), dtype=bool)
            bands = batch.column("bands")
            if q[0].size and bands.null_count < len(bands):
                flat = np.asarray(bands.flatten().to_numpy(zero_copy_only=False), dtype=np.uint64)
                owner = np.repeat(np.arange(len(oids)), _lengths(bands))
                hit[owner[np.isin(flat, q[0])]] = True
            ph = batch.column("phash")
            if q[1].size and ph.null_count < len(ph):
                rows = np.flatnonzero(ph.is_valid().to_numpy(zero_copy_only=False))
                vals = np.asarray(ph.to_numpy(zero_copy_only=False)[rows], dtype=np.int64).view(np.uint64)
                hit[rows[within_hamming(q[1], vals, cfg.image_max_hamming)]] = True
            vs = batch.column("video_sig")
            if q[2].size and vs.null_count < len(vs):
                flat = np.asarray(vs.flatten().to_numpy(zero_copy_only=False), dtype=np.int64).view(np.uint64)
                owner = np.repeat(np.arange(len(oids)), _lengths(vs))
                hit[owner[within_hamming(q[2], flat, cfg.video_max_hamming)]] = True
            for i in np.flatnonzero(hit & in_head).tolist():
                r = {c: batch.column(c)[i].as_py() for c in ("shingles", "phash", "video_sig", "audio_fp", "bands")}
                new[oids[i]] = {"status": "ok", "text": np.array(r["shingles"], dtype=np.uint64) if r["shingles"] is not None else None,
                                "phash": r["phash"], "video_sig": r["video_sig"], "audio_fp": r["audio_fp"], "_bands": r["bands"]}
        if not new:
            break
        found.update(new)
        q = (np.unique(np.array([k for r in new.values() for k in (r["_bands"] or [])], dtype=np.uint64)),
             np.array([r["phash"] for r in new.values() if r["phash"] is not None], dtype=np.int64).view(np.uint64),
             np.array([h for r in new.values() for h in (r["video_sig"] or []) if h], dtype=np.int64).view(np.uint64))
    for r in found.values():
        r.pop("_bands", None)
    return found


def _lengths(list_column):
    import numpy as np

    arr = list_column.combine_chunks() if hasattr(list_column, "combine_chunks") else list_column
    offsets = np.asarray(arr.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    n = np.diff(offsets)
    if arr.null_count:
        n = np.where(arr.is_valid().to_numpy(zero_copy_only=False), n, 0)
    return n
