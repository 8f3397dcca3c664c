"""Near-exact dedup: items that are the same data after a light edit or a re-encode.

Text and audio become sets (word 5-gram shingles; spectral landmark hashes), go through one
MinHash + LSH banding machine, and every LSH candidate is verified by the exact Jaccard of the
two sets, so the banding only decides which pairs are worth checking, never the verdict.
Images and video keyframes become 64-bit DCT perceptual hashes compared by Hamming distance,
with multi-index hashing instead of all pairs. Groups are connected components of verified
pairs (union-find), and a group's representative is its earliest member in the order given, so
the partition never depends on input order and the representative depends only on that order.

Everything here is numpy over whole batches: per-item Python work is limited to lower-casing
and encoding each text, and to each LSH candidate pair that needs verifying.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np

from mmvc.errors import FormatError

# Bump when a change here alters any fingerprint, signature or verdict: it is part of
# config_dict(), so cached results computed by an older algorithm are not reused.
ALGORITHM = "neardup-1"

_U64 = np.uint64
_MASK64 = (1 << 64) - 1
_EMPTY32 = np.uint32(0xFFFFFFFF)
_CHUNK_SHINGLES = 8192  # (num_perm x chunk) uint32 working set stays in L2


@dataclass(frozen=True)
class NearDupConfig:
    """Thresholds of the near-dup stage (``[process.neardup]``).

    ``bands`` x ``rows`` = 14 x 8 centres the LSH S-curve below the 0.8 verification
    threshold: a pair becomes a candidate with probability 50% at Jaccard 0.68, 92% at 0.8,
    and 99.3% at 0.86 (a 200-word text with two words edited).

    Audio landmark sets of one recording after a lossy re-encode, a gain change or mild noise
    overlap far less than edited texts do. Measured on 120 ``benchmarks/planted.py`` clips:
    Vorbis re-encodes J >= 0.24 (2nd percentile 0.40, median 0.72), MP3 >= 0.40, gain plus
    noise >= 0.43, resampling ~1.0; 7,140 unrelated pairs all <= 0.024. So audio verifies at
    ``audio_jaccard`` = 0.2 and bands its 112 values as 56 x 2, whose S-curve is at 50% near
    J = 0.11 and 99% at 0.28: recall comes from banding generously, precision from the
    exact-Jaccard check of every candidate (about 0.6% of unrelated pairs get checked).

    Video: two keyframe sequences match when, aligned in order (longest common subsequence
    where two frames agree when their pHashes are within ``video_max_hamming``), at least
    ``video_min_matched`` of the shorter sequence's frames are matched, and the shorter has
    at least ``video_min_length_ratio`` as many keyframes as the longer (a short excerpt of a
    long video is other data, not a re-encode of it).
    """

    num_perm: int = 112
    bands: int = 14
    rows: int = 8
    shingle: int = 5
    jaccard_threshold: float = 0.8
    image_max_hamming: int = 10
    video_max_hamming: int = 10
    video_min_matched: float = 0.8
    video_min_length_ratio: float = 0.5
    audio_jaccard: float = 0.2
    audio_bands: int = 56
    audio_rows: int = 2
    seed: int = 1

    def __post_init__(self):
        ints = ("num_perm", "bands", "rows", "shingle", "image_max_hamming", "video_max_hamming", "audio_bands", "audio_rows", "seed")
        for name in ints:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or (v < 0 if name in ("image_max_hamming", "video_max_hamming", "seed") else v < 1):
                raise FormatError(f"bad [process.neardup] setting {name} = {v!r}", "it must be a positive integer (see docs/process.md)")
        for name in ("jaccard_threshold", "audio_jaccard", "video_min_matched", "video_min_length_ratio"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 < v <= 1.0:
                raise FormatError(f"bad [process.neardup] setting {name} = {v!r}", "it must be a number in (0, 1]")
        if self.bands * self.rows > self.num_perm or self.audio_bands * self.audio_rows > self.num_perm:
            raise FormatError(
                f"[process.neardup] bands x rows ({self.bands} x {self.rows}, audio {self.audio_bands} x {self.audio_rows}) "
                f"exceeds num_perm = {self.num_perm}",
                "each band takes `rows` MinHash values; raise num_perm or lower bands/rows",
            )

    def config_dict(self) -> dict:
        return {"algorithm": ALGORITHM, **asdict(self)}


# ----------------------------------------------------------------------------- union-find


class UnionFind:
    """Disjoint sets over 0..n-1 whose root is always the smallest index in the set.

    Root = smallest index is what makes "representative = first key in the given order"
    fall out of the structure for free, and it is a deterministic function of the
    partition, so no union order can change a result.
    """

    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if ra < rb:
            self.parent[rb] = ra
        else:
            self.parent[ra] = rb
        return True

    def union_many(self, a: np.ndarray, b: np.ndarray) -> None:
        """Vectorised hook-and-compress: rounds of "point the larger root at the smaller",
        each followed by full pointer jumping, until every edge is inside one set. Rounds are
        few (logarithmic in practice), which keeps a million edges off the Python loop."""
        a = np.asarray(a, dtype=np.int64).ravel()
        b = np.asarray(b, dtype=np.int64).ravel()
        if a.size == 0:
            return
        parent = np.asarray(self.parent, dtype=np.int64)
        while True:
            parent = _compress(parent)
            ra, rb = parent[a], parent[b]
            diff = ra != rb
            if not diff.any():
                break
            ra, rb = ra[diff], rb[diff]
            lo, hi = np.minimum(ra, rb), np.maximum(ra, rb)
            np.minimum.at(parent, hi, lo)
            a, b = a[diff], b[diff]
        self.parent = parent.tolist()

    def roots(self) -> np.ndarray:
        return _compress(np.asarray(self.parent, dtype=np.int64))


def _compress(parent: np.ndarray) -> np.ndarray:
    while True:
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            return parent
        parent = nxt


def _groups(keys: list[str], uf: UnionFind) -> dict[str, str]:
    roots = uf.roots()
    dup = np.flatnonzero(roots != np.arange(len(keys)))
    return {keys[i]: keys[roots[i]] for i in dup.tolist()}


# ----------------------------------------------------------------------------- hashing


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fixed bijection on uint64 that avalanches every input bit."""
    x = x ^ (x >> _U64(30))
    x = x * _U64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> _U64(27))
    x = x * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


def _stable_u64(labels: list[str]) -> np.ndarray:
    """BLAKE2b-64 of each label: stable across processes and platforms, unlike ``hash()``."""
    digests = b"".join(hashlib.blake2b(s.encode("utf-8", "surrogatepass"), digest_size=8).digest() for s in labels)
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64)


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The MinHash family h_k(x) = a_k * x + b_k mod 2^32, with a_k odd.

    Why not (a x + b) mod (2^61 - 1): done exactly in uint64 numpy it needs a split
    multiply and two folds, and measured 6.2 s against 0.34 s for this form over the same
    4 M shingles x 112 permutations. Why it is still sound: an odd a_k makes each h_k a
    bijection on 32-bit values, so it adds no collisions of its own; the inputs are the top
    32 bits of avalanched 64-bit hashes (two texts of 10,000 shingles each have about a 5%
    chance of one spurious collision, worth 1e-4 of Jaccard); and
    the collision rate tracks true Jaccard (``tests/process/test_neardup.py`` checks it
    against exact Jaccard and against datasketch, whose default scheme since 2.0 is this
    same affine map mod 2^32). Parameters come from BLAKE2b of the seed, not numpy's RNG,
    whose streams are not promised to stay fixed across versions.
    """
    raw = _stable_u64([f"mmvc-minhash:{seed}:{k}" for k in range(2 * num_perm)])
    ab = (raw >> _U64(32)).astype(np.uint32)
    return ab[:num_perm] | np.uint32(1), ab[num_perm:]


def _minhash_flat(values: np.ndarray, ptr: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """MinHash of many sets at once. ``values`` (uint64) holds set i in values[ptr[i]:ptr[i+1]]
    (repeats allowed); returns (n, num_perm) uint32, all ones for an empty set."""
    n = len(ptr) - 1
    out = np.full((n, num_perm), _EMPTY32, dtype=np.uint32)
    if n == 0 or values.size == 0:
        return out
    a, b = _permutations(num_perm, seed)
    a, b = a[:, None], b[:, None]
    x = (values >> _U64(32)).astype(np.uint32)
    counts = np.diff(ptr)
    docs = np.flatnonzero(counts > 0)
    # chunk boundaries at set boundaries, about _CHUNK_SHINGLES values each
    ends = ptr[docs + 1]
    cuts = np.searchsorted(ends, np.arange(_CHUNK_SHINGLES, int(ends[-1]) + _CHUNK_SHINGLES, _CHUNK_SHINGLES), side="left")
    cuts = np.unique(np.minimum(cuts + 1, len(docs)))
    lo_doc = 0
    with np.errstate(over="ignore"):
        for hi_doc in cuts.tolist():
            if hi_doc <= lo_doc:
                continue
            sel = docs[lo_doc:hi_doc]
            s0, s1 = int(ptr[sel[0]]), int(ptr[sel[-1] + 1])
            h = a * x[s0:s1][None, :]
            h += b
            out[sel] = np.minimum.reduceat(h, ptr[sel] - s0, axis=1).T
            lo_doc = hi_doc
    return out


# ----------------------------------------------------------------------------- text


def _word_byte_table() -> np.ndarray:
    t = np.zeros(256, dtype=bool)
    for c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_":
        t[c] = True
    t[0x80:] = True  # bytes of non-ASCII characters; punctuation among them is cut below
    return t


_WORD_BYTE = _word_byte_table()
_POLY_BASE = 0x9E3779B97F4A7C15  # odd: B^k never degenerates mod 2^64
_POW: list[np.ndarray] = [np.ones(1, dtype=np.uint64)]


def _poly_powers(n: int) -> np.ndarray:
    """B^0 .. B^(n-1) mod 2^64 (uint64 products wrap, which is the modulus)."""
    if _POW[0].size < n:
        with np.errstate(over="ignore"):
            p = np.full(max(n, 64), _POLY_BASE, dtype=np.uint64)
            p[0] = 1
            _POW[0] = np.cumprod(p, dtype=np.uint64)
    return _POW[0][:n]


def _word_mask(b: np.ndarray) -> np.ndarray:
    """Which bytes of lower-cased UTF-8 belong to words: ASCII letters, digits and "_", and
    non-ASCII characters except the punctuation blocks prose actually uses (Latin-1
    U+00A0-U+00BF, General and Supplemental Punctuation U+2000-U+206F and U+2E00-U+2E7F,
    CJK punctuation U+3000-U+303F), so that curly quotes or dashes never glue to a word."""
    w = _WORD_BYTE[b]
    lead = np.flatnonzero(b[:-2] >= 0xC2) if b.size >= 3 else np.zeros(0, dtype=np.int64)
    if lead.size:
        c0, c1 = b[lead], b[lead + 1]
        two = lead[(c0 == 0xC2) & (c1 >= 0xA0) & (c1 <= 0xBF)]
        three = lead[((c0 == 0xE2) & ((c1 == 0x80) | (c1 == 0x81) | (c1 == 0xB8) | (c1 == 0xB9))) | ((c0 == 0xE3) & (c1 == 0x80))]
        w[two] = w[two + 1] = False
        w[three] = w[three + 1] = w[three + 2] = False
    return w


def _token_spans(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) byte offsets of the words in ``b``, which must end in a non-word byte."""
    w = _word_mask(b)
    if w.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    starts = np.flatnonzero(w[1:] & ~w[:-1]) + 1
    ends = np.flatnonzero(w[:-1] & ~w[1:]) + 1
    if w[0]:
        starts = np.concatenate(([0], starts))
    return starts, ends


def tokenize(text: str) -> list[str]:
    """Words as the text near-dup stage sees them: maximal runs of word characters of the
    lower-cased text (see ``_word_mask``). Punctuation, case and spacing edits are not content
    edits, so they must not break shingles. The stage itself never builds these strings; this
    is the reference for tests and for feeding other tools the same shingles."""
    raw = text.lower().encode("utf-8", "surrogatepass") + b" "
    starts, ends = _token_spans(np.frombuffer(raw, dtype=np.uint8))
    return [raw[s:e].decode("utf-8", "surrogatepass") for s, e in zip(starts.tolist(), ends.tolist())]


_BATCH_BYTES = 1 << 21
_SLICE_BYTES = 1 << 20


def _hash_spans(b: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """64-bit hash of each byte span [starts[i], ends[i]) of ``b``: the polynomial
    sum b_k B^(k - start) mod 2^64, plus the length, avalanched by splitmix64. Worked through
    slices of about a megabyte, so a huge text costs no more memory than a batch."""
    out = np.empty(starts.size, dtype=np.uint64)
    i0 = 0
    while i0 < starts.size:
        i1 = max(i0 + 1, int(np.searchsorted(starts, starts[i0] + _SLICE_BYTES)))
        s0, e1 = int(starts[i0]), int(ends[i1 - 1])
        seg = b[s0 : e1 + 1].astype(np.uint64)  # one byte past the last span: reduceat needs it
        st, en = starts[i0:i1] - s0, ends[i0:i1] - s0
        lens = en - st
        last = np.zeros(seg.size, dtype=np.int64)
        last[st] = st
        np.maximum.accumulate(last, out=last)
        pos = np.arange(seg.size, dtype=np.int64) - last
        np.minimum(pos, int(lens.max()) - 1, out=pos)
        with np.errstate(over="ignore"):
            seg *= _poly_powers(int(lens.max()))[pos]
            sums = np.add.reduceat(seg, np.stack((st, en), axis=1).ravel())[::2]
            sums += lens.astype(np.uint64) * _U64(0xD6E8FEB86659FD93)
        out[i0:i1] = _mix64(sums)
        i0 = i1
    return out


def _token_hashes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hash of every token of every text, concatenated, with per-text offsets.

    No per-token Python object is ever made: texts are lower-cased and encoded, joined in
    batches, word boundaries found by a byte table, and words hashed from their bytes in
    vector passes (``_hash_spans``). Stable across processes and platforms, unlike ``hash()``.
    """
    n = len(texts)
    hashes: list[np.ndarray] = []
    counts = np.zeros(n, dtype=np.int64)
    i = 0
    while i < n:
        enc: list = []
        size, j = 0, i
        while j < n and (not enc or size < _BATCH_BYTES):
            e = texts[j].lower().encode("utf-8", "surrogatepass")
            enc.append(e)
            size += len(e) + 1
            j += 1
        b = np.frombuffer(b" ".join(enc) + b" ", dtype=np.uint8)
        starts, ends = _token_spans(b)
        doc_starts = np.zeros(len(enc), dtype=np.int64)
        np.cumsum([len(e) + 1 for e in enc[:-1]], out=doc_starts[1:])
        counts[i:j] = np.diff(np.searchsorted(starts, doc_starts), append=starts.size)
        hashes.append(_hash_spans(b, starts, ends))
        i = j
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return (np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint64)), ptr


def _text_shingles(texts: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Word k-gram hashes of every text, concatenated, with offsets (CSR layout).

    A k-gram's hash is an order-sensitive combination of its words' hashes (a distinct odd
    multiplier per position) run through splitmix64, computed for every window of the
    concatenated corpus in k vector passes; windows that straddle two texts are dropped.
    A text of fewer than k words (but at least one) is a single shingle of all its words.
    """
    wh, tptr = _token_hashes(texts)
    n = len(texts)
    lens = np.diff(tptr)
    total = int(tptr[-1])
    nsh = np.where(lens >= k, lens - k + 1, np.minimum(lens, 1))
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(nsh, out=ptr[1:])
    out = np.empty(int(ptr[-1]), dtype=np.uint64)
    if total == 0:
        return out, ptr
    mult = _stable_u64([f"mmvc-shingle-pos:{j}" for j in range(k)]) | _U64(1)
    starts = tptr[:-1]
    short = np.flatnonzero((lens > 0) & (lens < k))
    with np.errstate(over="ignore"):
        if total >= k:
            m = total - k + 1
            h = wh[:m] * mult[0]
            for j in range(1, k):
                h += wh[j : j + m] * mult[j]
            # a window is valid unless it starts in the last k-1 tokens of its text; marking
            # ends - j covers that, and where it reaches into an earlier text it lands on that
            # text's own last k-1 tokens, which are invalid anyway
            invalid = np.zeros(total + k, dtype=bool)
            tail = tptr[1:][lens > 0]
            for j in range(1, k):
                invalid[np.maximum(tail - j, 0)] = True
            valid = ~invalid[:m]
            slot = np.ones(out.size, dtype=bool)
            slot[ptr[short]] = False
            out[slot] = _mix64(h[valid])
        for d in short.tolist():
            s, e = int(starts[d]), int(starts[d] + lens[d])
            hs = (wh[s:e] * mult[: e - s]).sum(dtype=np.uint64)
            out[ptr[d]] = _mix64(np.array([hs], dtype=np.uint64))[0]
    return out, ptr


def minhash_signatures(texts: list[str], cfg: NearDupConfig) -> np.ndarray:
    """(n, num_perm) uint64 MinHash signatures of the texts' word-shingle sets. Values are
    32-bit (see ``_permutations``); a text without words is all 0xFFFFFFFF and is never
    grouped."""
    values, ptr = _text_shingles(texts, cfg.shingle)
    return _minhash_flat(values, ptr, cfg.num_perm, cfg.seed).astype(np.uint64)


def _band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64 bucket keys: each band's `rows` values folded into one well-mixed
    64-bit word. A key collision between different bands' contents only adds a candidate,
    which verification then rejects."""
    n = sig.shape[0]
    s = sig[:, : bands * rows].astype(np.uint64).reshape(n, bands, rows)
    salt = _stable_u64([f"mmvc-band:{i}" for i in range(bands)])
    with np.errstate(over="ignore"):
        key = np.broadcast_to(salt, (n, bands)).copy()
        for r in range(rows):
            key = _mix64(key ^ s[:, :, r])
    return key


def _run_pairs(order_ids: np.ndarray, sorted_keys: np.ndarray, cap: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of ids that share a key, given ids sorted by key. Runs up to ``cap`` give all
    their pairs; a longer run (boilerplate shared by hundreds of items) gives only
    neighbours in its order, so a hot bucket costs linear, not quadratic, work."""
    m = sorted_keys.size
    if m < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    brk = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    starts = np.concatenate(([0], brk))
    sizes = np.diff(np.concatenate((starts, [m])))
    small = (sizes >= 2) & (sizes <= cap)
    big = sizes > cap
    lefts, rights = [], []
    if small.any():
        st, sz = starts[small], sizes[small]
        elem = np.repeat(st, sz) + (np.arange(sz.sum()) - np.repeat(np.cumsum(sz) - sz, sz))
        pos = elem - np.repeat(st, sz)
        cnt = np.repeat(sz, sz) - 1 - pos
        first = np.cumsum(cnt) - cnt
        left = np.repeat(elem, cnt)
        right = np.repeat(elem + 1 - first, cnt) + np.arange(int(cnt.sum()))
        lefts.append(order_ids[left])
        rights.append(order_ids[right])
    if big.any():
        st, sz = starts[big], sizes[big]
        elem = np.repeat(st, sz - 1) + (np.arange(int((sz - 1).sum())) - np.repeat(np.cumsum(sz - 1) - (sz - 1), sz - 1))
        lefts.append(order_ids[elem])
        rights.append(order_ids[elem + 1])
    if not lefts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(lefts), np.concatenate(rights)


def _lsh_candidates(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Unique candidate pairs (i < j) sharing at least one band bucket, as an (m, 2) array
    in ascending order. Within a bucket, items are ordered by content (a hash of their whole
    signature), so even the capped hot-bucket path is independent of input order."""
    n = sig.shape[0]
    live = np.flatnonzero((sig != _EMPTY32).any(axis=1))
    if live.size < 2:
        return np.zeros((0, 2), dtype=np.int64)
    keys = _band_keys(sig[live], bands, rows).ravel()
    ids = np.repeat(live, bands)
    content = signature_content(sig[live])
    lo, hi = bucket_pairs(ids, keys, np.repeat(content, bands))
    code = np.unique(lo * n + hi)
    return np.stack((code // n, code % n), axis=1)


def signature_content(sig: np.ndarray) -> np.ndarray:
    """One 64-bit hash of each whole MinHash signature: the order of items within a bucket."""
    return _band_keys(sig, 1, sig.shape[1])[:, 0]


def bucket_pairs(ids: np.ndarray, keys: np.ndarray, content: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs (lo, hi) of ``ids`` that share a bucket ``key`` (one row per item and
    band), items ordered within a bucket by ``content`` and then id (``_run_pairs`` caps hot
    buckets). A bucket's pairs depend only on its own rows, so buckets may be split across
    workers by key (``mmvc.process.distdedup``) with the same result."""
    order = np.lexsort((ids, content, keys))
    i, j = _run_pairs(ids[order], keys[order])
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    keep = lo != hi
    return lo[keep], hi[keep]


def jaccard_sorted(x: np.ndarray, y: np.ndarray) -> float:
    """Exact Jaccard of two sorted, unique sets: the near tier's verification of a candidate."""
    return _jaccard_sorted(x, y)


def _jaccard_sorted(x: np.ndarray, y: np.ndarray) -> float:
    inter = np.intersect1d(x, y, assume_unique=True).size
    union = x.size + y.size - inter
    return inter / union if union else 0.0


def _verified_groups(keys: list[str], values: np.ndarray, ptr: np.ndarray, sig: np.ndarray,
                     bands: int, rows: int, threshold: float) -> dict[str, str]:
    uf = UnionFind(len(keys))
    sets: dict[int, np.ndarray] = {}

    def set_of(i: int) -> np.ndarray:
        s = sets.get(i)
        if s is None:
            s = sets[i] = np.unique(values[ptr[i] : ptr[i + 1]])
        return s

    for i, j in _lsh_candidates(sig, bands, rows).tolist():
        if uf.find(i) == uf.find(j):
            continue
        if _jaccard_sorted(set_of(i), set_of(j)) >= threshold:
            uf.union(i, j)
    return _groups(keys, uf)


def near_duplicate_groups(keys: list[str], texts: list, cfg: NearDupConfig) -> dict[str, str]:
    """{duplicate key: representative key} for texts whose word-shingle sets have Jaccard >=
    ``cfg.jaccard_threshold`` with another member of their group (directly or through a chain
    of such pairs). The representative is the group's first key in the order given; keys
    not in any group are absent. A text may be given as its shingle set instead (a uint64
    array from ``text_shingle_sets``, as the dedup index keeps an item already committed)."""
    if len(keys) != len(texts):
        raise ValueError("keys and texts differ in length")
    values, ptr = _shingles_or_sets(texts, cfg)
    sig = _minhash_flat(values, ptr, cfg.num_perm, cfg.seed)
    return _verified_groups(list(keys), values, ptr, sig, cfg.bands, cfg.rows, cfg.jaccard_threshold)


def _shingles_or_sets(texts: list, cfg: NearDupConfig) -> tuple[np.ndarray, np.ndarray]:
    """CSR shingles of texts given as strings or as shingle sets, in the order given."""
    strings = [t for t in texts if isinstance(t, str)]
    if len(strings) == len(texts):
        return _text_shingles(texts, cfg.shingle)
    sv, sp = _text_shingles(strings, cfg.shingle)
    parts, j = [], 0
    for t in texts:
        if isinstance(t, str):
            parts.append(sv[sp[j] : sp[j + 1]])
            j += 1
        else:
            parts.append(np.asarray(t, dtype=np.uint64))
    return _csr(parts)


def _csr(parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([p.size for p in parts], out=ptr[1:])
    return (np.concatenate(parts).astype(np.uint64) if parts else np.zeros(0, dtype=np.uint64)), ptr


def text_shingle_sets(texts: list[str], cfg: NearDupConfig) -> list[np.ndarray]:
    """Each text's word-shingle set (sorted, unique uint64): what the near tier compares, and
    what the dedup index keeps of a committed text in place of the text."""
    values, ptr = _text_shingles(texts, cfg.shingle)
    return [np.unique(values[ptr[i] : ptr[i + 1]]) for i in range(len(texts))]


def band_rows(sets: list[np.ndarray], cfg: NearDupConfig, audio: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(live, keys, content) of sets (text shingle sets, or audio landmark sets with
    ``audio``): the indexes of the non-empty sets, their LSH band keys (len(live) x bands) and
    the hash of their whole signature (``signature_content``). Two sets are near-tier
    candidates exactly when they share a band key; an empty set has none."""
    values, ptr = _csr([np.asarray(s, dtype=np.uint64) for s in sets])
    sig = _minhash_flat(values, ptr, cfg.num_perm, cfg.seed)
    bands, rows = (cfg.audio_bands, cfg.audio_rows) if audio else (cfg.bands, cfg.rows)
    live = np.flatnonzero((sig != _EMPTY32).any(axis=1))
    return live, _band_keys(sig[live], bands, rows), signature_content(sig[live])


def set_band_keys(sets: list[np.ndarray], cfg: NearDupConfig, audio: bool = False) -> list[np.ndarray]:
    """The LSH band keys of each set (``band_rows``); an empty set has none."""
    live, keys, _ = band_rows(sets, cfg, audio)
    out = [np.zeros(0, dtype=np.uint64)] * len(sets)
    for r, i in enumerate(live.tolist()):
        out[i] = keys[r]
    return out


def shingle_sets(texts: list, cfg: NearDupConfig) -> list[np.ndarray]:
    """Each text's shingle set (sorted, unique), for texts given as strings or already as sets."""
    values, ptr = _shingles_or_sets(texts, cfg)
    return [np.unique(values[ptr[i] : ptr[i + 1]]) for i in range(len(texts))]


# ----------------------------------------------------------------------------- images


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    d = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * x + 1) * k / (2 * n))
    d[0] /= np.sqrt(2.0)
    return d


def _tukey(n: int, alpha: float) -> np.ndarray:
    x = (np.arange(n) + 0.5) / n
    w = np.ones(n)
    m = alpha / 2
    edge = np.minimum(x, 1 - x) < m
    w[edge] = 0.5 * (1 - np.cos(np.pi * np.minimum(x, 1 - x)[edge] / m))
    return w


_DCT32 = _dct_matrix(32)
_TAPER = np.outer(_tukey(32, 0.3), _tukey(32, 0.3))
# The classic pHash's top-left 8x8 DCT block less its DC term (which only measures
# brightness), topped up to 64 bits with the next coefficient out, (0, 8).
_PHASH_UV = sorted(((u, v) for u in range(9) for v in range(9) if (u, v) != (0, 0)), key=lambda t: (max(t), t))[:64]
_PHASH_U = np.array([u for u, _ in _PHASH_UV])
_PHASH_V = np.array([v for _, v in _PHASH_UV])


def phash(rgb: np.ndarray) -> int:
    """64-bit DCT perceptual hash of an image (H x W x 3/4 uint8, or H x W grey).

    The classic pHash (grey by ITU-R 601 luma, area-averaged to 32 x 32, 2-D DCT-II by a
    precomputed matrix, one bit per low-frequency AC coefficient: above the median of the
    64 or not), with one change: before the DCT the mean-removed 32 x 32 image is tapered
    towards its borders (a Tukey window, 15% each side). A crop moves content across the
    border, and the taper makes that count for little. On the seeded shapes-and-gradients
    images of ``benchmarks/planted.py`` (1,600 images in two sets, thumbnails as the pipeline
    makes them) it lifted 5% crops within Hamming 10 from 87% to 94%, with JPEG-70 and 80%
    resizes at 100% either way, for unrelated pairs within 10 bits going from 3 to 6 per
    million (2 and 4 of 649,200). A flat image has no structure and gets 0.
    """
    from PIL import Image

    arr = np.asarray(rgb)
    if arr.ndim == 3:
        if arr.shape[2] >= 3:
            arr = arr[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        else:
            arr = arr[..., 0]
    elif arr.ndim != 2:
        raise ValueError(f"phash wants an H x W or H x W x C array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("phash of an empty image")
    small = Image.fromarray(np.ascontiguousarray(arr, dtype=np.float32), "F").resize((32, 32), Image.Resampling.BOX)
    g = np.asarray(small, dtype=np.float64)
    c = (_DCT32 @ ((g - g.mean()) * _TAPER) @ _DCT32.T)[_PHASH_U, _PHASH_V]
    if np.abs(c).max() < 1e-3:
        return 0
    bits = c > np.median(c)
    return int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little")


def _as_u64(hashes) -> np.ndarray:
    return np.array([int(h) & _MASK64 for h in hashes], dtype=np.uint64)


_TABLE_BITS = 22  # chunks up to this wide are looked up in a direct table, wider ones by binary search
_EXPAND = 1 << 22  # candidate pairs materialised at once


def _mih_plan(n: int, max_hamming: int) -> tuple[int, list[int]] | None:
    """(probe radius r, chunk widths) for multi-index hashing at this size, or None where
    comparing all pairs is cheaper (a radius so wide that chunks would be a bit or two).

    With k chunks, two values within distance D differ by at most floor(D / k) bits in some
    chunk. k = D + 1 chunks need exact chunk matches only, but 64 / 11 ~ 6-bit chunks put
    n / 64 values in every bucket, so candidates grow as n^2 / 64; fewer, wider chunks
    probed within radius r (all values at most r bits from the item's chunk) trade a fixed
    number of probes per item for far emptier buckets. The plan minimises probes plus
    expected candidates for uniformly spread hashes: exact chunks below a few thousand
    hashes, radius 1 or 2 above (D = 10: 4 chunks of 16 bits, 137 probes, at 100,000)."""
    from math import comb

    best = None
    for r in range(4):
        k = max_hamming // (r + 1) + 1
        if k > 64:
            continue
        widths = [64 // k + (1 if c < 64 % k else 0) for c in range(k)]
        probes = sum(comb(widths[0], i) for i in range(r + 1))
        lookup = 1.0 if widths[0] <= _TABLE_BITS else 4.0
        cost = n * k * probes * lookup + 2.0 * n * n * k * probes / 2.0 ** widths[-1] / 2
        if best is None or cost < best[0]:
            best = (cost, r, widths)
    if best is None or best[0] > n * (n - 1) / 2:
        return None
    return best[1], best[2]


def _flip_masks(width: int, r: int) -> np.ndarray:
    from itertools import combinations

    return np.array([sum(1 << b for b in bits) for i in range(r + 1) for bits in combinations(range(width), i)], dtype=np.int64)


def hamming_pairs(h: np.ndarray, max_hamming: int, plan: tuple[int, list[int]] | None | str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """All pairs i < j of *distinct* 64-bit values with popcount(h_i ^ h_j) <= max_hamming.

    Multi-index hashing (see ``_mih_plan``): only values whose chunks agree within the probe
    radius on at least one chunk become candidates, so the all-pairs comparison never
    happens; each candidate is checked by popcount as it is made, and memory holds a
    bounded batch of candidates at a time. ``plan`` forces a (radius, widths) plan, or
    None for all pairs; the widths must satisfy floor(max_hamming / len(widths)) <= radius."""
    n = h.size
    empty = np.zeros(0, dtype=np.int64)
    if n < 2 or max_hamming <= 0:
        return empty, empty
    if plan == "auto":
        plan = _mih_plan(n, max_hamming)
    found: list[np.ndarray] = []
    if plan is None:
        rows = max(1, _EXPAND // n)
        for i0 in range(0, n, rows):
            d = np.bitwise_count(h[i0 : i0 + rows, None] ^ h[None, :])
            bi, bj = np.nonzero(d <= max_hamming)
            bi += i0
            keep = bi < bj
            found.append(bi[keep] * n + bj[keep])
        code = np.concatenate(found)
        return code // n, code % n
    assert not isinstance(plan, str)
    r, widths = plan
    shift = 0
    for width in widths:
        v = ((h >> _U64(shift)) & _U64((1 << width) - 1)).astype(np.int64)
        shift += width
        masks = _flip_masks(width, r)
        order = np.argsort(v, kind="stable")
        sv = v[order]
        if width <= _TABLE_BITS:
            counts = np.bincount(v, minlength=1 << width)
            offsets = np.cumsum(counts) - counts
        block = max(1, _EXPAND // (masks.size * 4))
        for i0 in range(0, n, block):
            q = (v[i0 : i0 + block, None] ^ masks[None, :]).ravel()
            if width <= _TABLE_BITS:
                lo, cnt = offsets[q], counts[q]
            else:
                lo = np.searchsorted(sv, q, side="left")
                cnt = np.searchsorted(sv, q, side="right") - lo
            src = np.repeat(np.arange(i0, min(n, i0 + block)), masks.size)
            hit = np.flatnonzero(cnt)
            src, lo, cnt = src[hit], lo[hit], cnt[hit]
            ends = np.cumsum(cnt)
            q0 = 0
            while q0 < src.size:  # materialise at most ~_EXPAND candidates at once
                q1 = max(q0 + 1, int(np.searchsorted(ends, (ends[q0 - 1] if q0 else 0) + _EXPAND, side="right")))
                c = cnt[q0:q1]
                first = np.cumsum(c) - c
                left = np.repeat(src[q0:q1], c)
                right = order[np.repeat(lo[q0:q1] - first, c) + np.arange(int(c.sum()))]
                keep = left < right
                left, right = left[keep], right[keep]
                ok = np.bitwise_count(h[left] ^ h[right]) <= max_hamming
                found.append(left[ok] * n + right[ok])
                q0 = q1
    if not found:
        return empty, empty
    code = np.unique(np.concatenate(found))
    return code // n, code % n


def within_hamming(queries: np.ndarray, base: np.ndarray, max_hamming: int) -> np.ndarray:
    """Which of ``base`` (uint64) are within ``max_hamming`` bits of some value of ``queries``.

    Multi-index hashing from the query side: ``base`` is split into k chunks (k = D // 3 + 1,
    so a pair within D bits has a chunk within 2 bits) and sorted per chunk; each query probes
    every value within 2 bits of its chunk, and each candidate is checked by popcount. The
    work grows with the queries' probes and the candidates, never with base-to-base pairs, so
    a few thousand staged hashes scan a large history batch cheaply."""
    hit = np.zeros(base.size, dtype=bool)
    if queries.size == 0 or base.size == 0:
        return hit
    queries, base = queries.astype(np.uint64), base.astype(np.uint64)
    r = min(2, max_hamming)
    k = max_hamming // (r + 1) + 1
    shift = 0
    for width in [64 // k + (1 if c < 64 % k else 0) for c in range(k)]:
        mask = _U64((1 << width) - 1)
        bv = ((base >> _U64(shift)) & mask).astype(np.int64)
        qv = ((queries >> _U64(shift)) & mask).astype(np.int64)
        shift += width
        order = np.argsort(bv, kind="stable")
        sv = bv[order]
        flips = _flip_masks(width, r)
        block = max(1, _EXPAND // flips.size)
        for q0 in range(0, qv.size, block):
            probe = (qv[q0 : q0 + block, None] ^ flips[None, :]).ravel()
            lo = np.searchsorted(sv, probe, side="left")
            cnt = np.searchsorted(sv, probe, side="right") - lo
            nz = np.flatnonzero(cnt)
            if nz.size == 0:
                continue
            src = q0 + nz // flips.size
            lo, cnt = lo[nz], cnt[nz]
            first = np.cumsum(cnt) - cnt
            right = order[np.repeat(lo - first, cnt) + np.arange(int(cnt.sum()))]
            left = np.repeat(src, cnt)
            hit[right[np.bitwise_count(queries[left] ^ base[right]) <= max_hamming]] = True
    return hit


def image_groups(keys: list[str], hashes, max_hamming: int = 10) -> dict[str, str]:
    """{duplicate key: representative key} for images whose pHashes are within
    ``max_hamming`` bits, grouped transitively. ``hashes`` are unsigned or signed 64-bit ints."""
    keys = list(keys)
    h = _as_u64(hashes)
    if len(keys) != h.size:
        raise ValueError("keys and hashes differ in length")
    uf = UnionFind(len(keys))
    if h.size < 2:
        return {}
    uniq, first, inv = np.unique(h, return_index=True, return_inverse=True)
    uf.union_many(np.arange(h.size), first[inv])
    i, j = hamming_pairs(uniq, max_hamming)
    uf.union_many(first[i], first[j])
    return _groups(keys, uf)


# ----------------------------------------------------------------------------- video


def video_signature(keyframes: list[np.ndarray]) -> list[int]:
    """pHash of each keyframe, in order. Keyframes should be frames at fixed positions in
    the video (evenly spread), so that a re-encode, which moves codec I-frames, still
    yields comparable frames."""
    return [phash(f) for f in keyframes]


def _sequence_match(x: np.ndarray, y: np.ndarray, max_hamming: int) -> int:
    """Longest common subsequence length, where two frames agree when within max_hamming:
    the number of frames matched in order. One vector pass per row: the running maximum
    along a row is exactly the LCS recurrence's left-neighbour term."""
    match = np.bitwise_count(x[:, None] ^ y[None, :]) <= max_hamming
    prev = np.zeros(y.size + 1, dtype=np.int64)
    for row in match:
        cur = np.empty_like(prev)
        cur[0] = 0
        cur[1:] = np.maximum(prev[1:], prev[:-1] + row)
        np.maximum.accumulate(cur, out=cur)
        prev = cur
    return int(prev[-1])


def video_groups(keys: list[str], signatures: list[list[int]], max_hamming: int = 10, *,
                 min_matched: float = 0.8, min_length_ratio: float = 0.5) -> dict[str, str]:
    """{duplicate key: representative key} for videos whose keyframe pHash sequences match:
    an in-order alignment (LCS, frames agreeing within ``max_hamming``) covers at least
    ``min_matched`` of the shorter sequence, and the shorter has at least
    ``min_length_ratio`` of the longer's keyframes. Candidates are videos sharing at least
    one close keyframe (multi-index hashing over all keyframes); flat frames (pHash 0, e.g.
    black fades) and frames shared by very many videos do not make candidates, as they say
    nothing about which video it is, but they still count in the alignment."""
    keys = list(keys)
    if len(keys) != len(signatures):
        raise ValueError("keys and signatures differ in length")
    seqs = [_as_u64(s) for s in signatures]
    uf = UnionFind(len(keys))
    lens = np.array([s.size for s in seqs], dtype=np.int64)
    if len(keys) < 2 or lens.sum() == 0:
        return {}
    owner = np.repeat(np.arange(len(keys)), lens)
    frames = np.concatenate(seqs)
    informative = frames != 0
    owner, frames = owner[informative], frames[informative]
    uniq, inv = np.unique(frames, return_inverse=True)
    # videos per distinct frame hash (CSR), each video once
    pairs_vh = np.unique(np.stack((inv, owner), axis=1), axis=0)
    vh_ptr = np.searchsorted(pairs_vh[:, 0], np.arange(uniq.size + 1))
    vids_of = pairs_vh[:, 1]
    per_hash = np.diff(vh_ptr)
    stop = per_hash > max(64, len(keys) // 20)
    cand: set[tuple[int, int]] = set()

    def cross(u1: int, u2: int) -> None:
        a = vids_of[vh_ptr[u1] : vh_ptr[u1 + 1]].tolist()
        b = vids_of[vh_ptr[u2] : vh_ptr[u2 + 1]].tolist()
        for p in a:
            for q in b:
                if p != q:
                    cand.add((min(p, q), max(p, q)))

    for u in np.flatnonzero((per_hash >= 2) & ~stop).tolist():
        cross(u, u)
    fi, fj = hamming_pairs(uniq, max_hamming)
    ok = ~stop[fi] & ~stop[fj]
    for u1, u2 in zip(fi[ok].tolist(), fj[ok].tolist()):
        cross(u1, u2)
    for p, q in sorted(cand):
        if uf.find(p) == uf.find(q):
            continue
        short, long_ = sorted((lens[p], lens[q]))
        if short == 0 or short < min_length_ratio * long_:
            continue
        need = int(np.ceil(min_matched * short - 1e-9))
        if _sequence_match(seqs[p], seqs[q], max_hamming) >= need:
            uf.union(p, q)
    return _groups(keys, uf)


# ----------------------------------------------------------------------------- audio

_SR = 16_000
_NFFT = 1024  # 64 ms: resolves partials 16 Hz apart
_HOP = 256  # 16 ms
_FMIN, _FMAX = 8, 416  # bins 125 Hz .. 6.5 kHz: kept by any sane lossy encoder
_NEIGH_T, _NEIGH_F = 5, 20  # a peak is the maximum within +-80 ms and +-310 Hz
_PEAKS_PER_S = 24
_DYN_RANGE_DB = 50.0
_FAN_OUT = 6
_LOOKAHEAD = 12
_DT_MAX = 48  # frames: pair partners at most 0.77 s later
_DF_MAX = 96  # bins: and at most 1.5 kHz apart
_FQ = 2  # frequency bins per hash cell: a peak may move one bin under re-encoding
_DTQ = 2  # and frames per time cell: an onset may move one frame


def _running_max(s: np.ndarray, r: int, axis: int) -> np.ndarray:
    """Maximum over a window of 2r+1 along ``axis``, by doubling: log2(r) + 2 passes."""
    n = s.shape[axis]
    pad = [(0, 0)] * s.ndim
    pad[axis] = (r, r)
    p = np.pad(s, pad, constant_values=-np.inf)
    width, m = 1, p
    while 2 * width <= 2 * r + 1:
        lead = [slice(None)] * s.ndim
        lead[axis] = slice(width, None)
        tail = [slice(None)] * s.ndim
        tail[axis] = slice(None, m.shape[axis] - width)
        m = np.maximum(m[tuple(tail)], m[tuple(lead)])
        width *= 2
    rest = 2 * r + 1 - width
    a = [slice(None)] * s.ndim
    a[axis] = slice(0, n)
    b = [slice(None)] * s.ndim
    b[axis] = slice(rest, rest + n)
    return np.maximum(m[tuple(a)], m[tuple(b)])


def _max_filter(s: np.ndarray, rt: int, rf: int) -> np.ndarray:
    """Running maximum over a (2rt+1) x (2rf+1) neighbourhood, edges padded with -inf."""
    return _running_max(_running_max(s, rt, 0), rf, 1)


def audio_fingerprint(samples: np.ndarray, sample_rate: int = _SR) -> np.ndarray:
    """Landmark hashes of a mono 16 kHz signal, as a sorted set of uint64.

    Spectrogram peaks (local maxima over a time-frequency neighbourhood, within 50 dB of the
    loudest, at most ~24 per second, strongest first) are paired with the next few peaks
    ahead of them, and each pair (f1, f2 - f1, dt) is hashed. Peak positions survive lossy
    coding, gain changes and moderate noise; absolute time is left out so that a shifted
    start does not change the set. A signal too short or too quiet to have peaks gives an
    empty set, which never groups.
    """
    x = np.asarray(samples, dtype=np.float32).ravel()
    if sample_rate != _SR:
        raise ValueError(f"audio_fingerprint wants {_SR} Hz mono, got {sample_rate} Hz")
    x = np.nan_to_num(x)
    if x.size < _NFFT:
        return np.zeros(0, dtype=np.uint64)
    from numpy.lib.stride_tricks import sliding_window_view

    frames = sliding_window_view(x, _NFFT)[::_HOP]
    win = np.hanning(_NFFT).astype(np.float32)
    spec = np.abs(np.fft.rfft(frames * win, axis=1))[:, _FMIN:_FMAX]
    loud = float(spec.max())
    if loud <= 1e-6:
        return np.zeros(0, dtype=np.uint64)
    db = 20.0 * np.log10(np.maximum(spec, loud * 1e-6) / loud)
    is_peak = (db == _max_filter(db, _NEIGH_T, _NEIGH_F)) & (db > -_DYN_RANGE_DB)
    t, f = np.nonzero(is_peak)
    if t.size < 2:
        return np.zeros(0, dtype=np.uint64)
    budget = max(2, int(round(_PEAKS_PER_S * x.size / _SR)))
    if t.size > budget:
        keep = np.sort(np.argsort(-db[t, f], kind="stable")[:budget])
        t, f = t[keep], f[keep]
    n = t.size
    anchors, partners = [], []
    taken = np.zeros(n, dtype=np.int64)
    for k in range(1, _LOOKAHEAD + 1):
        i = np.arange(n - k)
        j = i + k
        dt = t[j] - t[i]
        ok = (dt >= 1) & (dt <= _DT_MAX) & (np.abs(f[j] - f[i]) <= _DF_MAX) & (taken[i] < _FAN_OUT)
        taken[i[ok]] += 1
        anchors.append(i[ok])
        partners.append(j[ok])
    i, j = np.concatenate(anchors), np.concatenate(partners)
    if i.size == 0:
        return np.zeros(0, dtype=np.uint64)
    f1 = (f[i] // _FQ).astype(np.uint64)
    df = ((f[j] - f[i]) // _FQ + 128).astype(np.uint64)
    dt = ((t[j] - t[i]) // _DTQ).astype(np.uint64)
    code = (f1 << _U64(16)) | (df << _U64(8)) | dt
    with np.errstate(over="ignore"):
        return np.unique(_mix64(code ^ _U64(0xA0D10F1A6E5EED)))


def audio_groups(keys: list[str], fingerprints: list[np.ndarray], cfg: NearDupConfig) -> dict[str, str]:
    """{duplicate key: representative key} for recordings whose landmark sets have exact
    Jaccard >= ``cfg.audio_jaccard``: the text machinery (MinHash, LSH banded as
    ``audio_bands`` x ``audio_rows``, verification, union-find) over landmark hashes."""
    keys = list(keys)
    if len(keys) != len(fingerprints):
        raise ValueError("keys and fingerprints differ in length")
    fps = [np.asarray(fp, dtype=np.uint64).ravel() if not isinstance(fp, list) else _as_u64(fp) for fp in fingerprints]
    lens = np.array([fp.size for fp in fps], dtype=np.int64)
    ptr = np.zeros(len(fps) + 1, dtype=np.int64)
    np.cumsum(lens, out=ptr[1:])
    values = np.concatenate(fps) if fps else np.zeros(0, dtype=np.uint64)
    sig = _minhash_flat(values, ptr, cfg.num_perm, cfg.seed)
    return _verified_groups(keys, values, ptr, sig, cfg.audio_bands, cfg.audio_rows, cfg.audio_jaccard)
