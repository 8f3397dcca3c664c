"""Stage 4 near-exact dedup: what it groups, what it leaves apart, and that the MinHash under
it estimates Jaccard the way MinHash must."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from mmvc.errors import FormatError
from mmvc.process import neardup as nd
from mmvc.process.neardup import (
    NearDupConfig,
    UnionFind,
    audio_fingerprint,
    audio_groups,
    image_groups,
    minhash_signatures,
    near_duplicate_groups,
    phash,
    tokenize,
    video_groups,
    video_signature,
)

CFG = NearDupConfig()


# ------------------------------------------------------------------ material


def vocab(seed: int = 0, size: int = 5000) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = {"".join(rng.choice(letters, int(rng.integers(3, 10)))) for _ in range(size * 2)}
    return sorted(words)[:size]


VOCAB = vocab()


def document(rng: np.random.Generator, n_words: int = 200) -> str:
    words = [VOCAB[i] for i in rng.integers(0, len(VOCAB), n_words)]
    return " ".join(w.capitalize() + "." if i % 12 == 11 else w for i, w in enumerate(words))


def edit(rng: np.random.Generator, text: str, n: int) -> str:
    toks = text.split()
    for _ in range(n):
        toks[int(rng.integers(len(toks)))] = VOCAB[int(rng.integers(len(VOCAB)))]
    return " ".join(toks)


def partition(keys: list[str], groups: dict[str, str]) -> set[frozenset[str]]:
    by_rep: dict[str, set[str]] = {}
    for k in keys:
        rep = groups.get(k, k)
        by_rep.setdefault(rep, {rep}).add(k)
    return {frozenset(v) for v in by_rep.values()}


def picture(seed: int, size=(320, 240)) -> Image.Image:
    """Gradient plus seeded shapes: structure at every scale, like a photo, unlike noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0, 1, w)[None, :, None] * np.ones((h, 1, 1))
    img = Image.fromarray((c0 * (1 - t) + c1 * t).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(7):
        x0, y0 = rng.uniform(0, 0.8) * w, rng.uniform(0, 0.8) * h
        box = [x0, y0, x0 + rng.uniform(0.15, 0.5) * w, y0 + rng.uniform(0.15, 0.5) * h]
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=col)
    return img


def reload(img: Image.Image, fmt: str, **kw) -> np.ndarray:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def signal(seed: int, seconds: float = 6.0, sr: int = 16_000) -> np.ndarray:
    """Seeded notes (fundamental plus overtones, each with its own decay) over a chirp."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    y = 0.2 * np.sin(2 * np.pi * (300 * t + 150 * t**2 / seconds))
    pos = 0.0
    while pos < seconds:
        dur = float(rng.uniform(0.15, 0.5))
        f0 = 110 * 2 ** (int(rng.integers(0, 36)) / 12)
        m = (t >= pos) & (t < pos + dur)
        tt = t[m] - pos
        for k in range(1, 4):
            y[m] += 0.6 / k * np.exp(-4 * tt) * np.sin(2 * np.pi * f0 * k * tt)
        pos += dur
    return (0.8 * y / np.abs(y).max()).astype(np.float32)


def roundtrip(y: np.ndarray, fmt: str, subtype: str, sr: int = 16_000) -> np.ndarray:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, subtype=subtype)
    buf.seek(0)
    out, got_sr = sf.read(buf, dtype="float32")
    assert got_sr == sr
    return out


# ------------------------------------------------------------------ config


def test_config_defaults_and_dict():
    d = CFG.config_dict()
    assert d["algorithm"] == nd.ALGORITHM
    assert (d["num_perm"], d["bands"], d["rows"], d["shingle"], d["jaccard_threshold"], d["image_max_hamming"]) == (112, 14, 8, 5, 0.8, 10)
    assert NearDupConfig(**{k: v for k, v in d.items() if k != "algorithm"}) == CFG


@pytest.mark.parametrize("bad", [{"bands": 15}, {"rows": 0}, {"jaccard_threshold": 1.5}, {"num_perm": "112"}, {"audio_bands": 60}, {"image_max_hamming": -1}])
def test_config_rejects_bad_values(bad):
    with pytest.raises(FormatError):
        NearDupConfig(**bad)


# ------------------------------------------------------------------ text


def test_tokenize_ignores_case_punctuation_and_spacing():
    assert tokenize("Hello,  WORLD!\n“Quoted”—dash café x_y 42") == ["hello", "world", "quoted", "dash", "café", "x_y", "42"]
    assert tokenize("") == [] and tokenize(" ...!") == []


def test_edited_texts_group_and_unrelated_do_not():
    rng = np.random.default_rng(1)
    a, b = document(rng), document(rng)
    a1, a2, b1 = edit(rng, a, 2), edit(rng, a, 3), edit(rng, b, 1)
    keys = ["a", "b", "c", "a1", "a2", "b1"]
    texts = [a, b, document(rng), a1, a2, b1]
    groups = near_duplicate_groups(keys, texts, CFG)
    assert groups == {"a1": "a", "a2": "a", "b1": "b"}


def test_punctuation_and_case_edits_are_not_content():
    rng = np.random.default_rng(2)
    a = document(rng)
    assert near_duplicate_groups(["x", "y"], [a, a.upper().replace(".", "!")], CFG) == {"y": "x"}


def test_jaccard_below_threshold_is_not_grouped():
    rng = np.random.default_rng(3)
    a = document(rng, 100)
    # every 5th word changed: each 5-gram sees an edit, so the shingle sets hardly overlap
    toks = a.split()
    b = " ".join(VOCAB[(i * 7) % len(VOCAB)] if i % 5 == 0 else w for i, w in enumerate(toks))
    assert near_duplicate_groups(["a", "b"], [a, b], CFG) == {}


def test_short_and_empty_texts():
    groups = near_duplicate_groups(["a", "b", "c", "d", "e"], ["tiny text", "Tiny, text!", "", "  ", "other words"], CFG)
    assert groups == {"b": "a"}
    sig = minhash_signatures(["", "one two"], CFG)
    assert sig.dtype == np.uint64 and sig.shape == (2, 112)
    assert (sig[0] == 0xFFFFFFFF).all() and (sig[1] < 0xFFFFFFFF).any()


def test_signature_depends_only_on_the_text():
    rng = np.random.default_rng(4)
    docs = [document(rng, int(n)) for n in rng.choice([0, 1, 3, 4, 5, 6, 50], 40)]
    batch = minhash_signatures(docs, CFG)
    for i, d in enumerate(docs):  # neighbours in a batch, short or empty, never leak in
        assert np.array_equal(batch[i], minhash_signatures([d], CFG)[0])
    assert np.array_equal(batch[::-1], minhash_signatures(docs[::-1], CFG))
    assert not np.array_equal(batch[0], minhash_signatures([docs[0]], NearDupConfig(seed=2))[0])


def test_representative_is_first_in_given_order():
    rng = np.random.default_rng(5)
    a = document(rng)
    texts = [edit(rng, a, 1), a, edit(rng, a, 2)]
    assert near_duplicate_groups(["z", "m", "a"], texts, CFG) == {"m": "z", "a": "z"}
    assert near_duplicate_groups(["a", "m", "z"], texts[::-1], CFG) == {"m": "a", "z": "a"}


def _corpus(seed: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    base = [document(rng, int(rng.integers(20, 120))) for _ in range(6)]
    texts = list(base)
    for _ in range(10):
        src = texts[int(rng.integers(len(texts)))]  # edits of edits: chains, not just stars
        texts.append(edit(rng, src, int(rng.integers(0, 3))))
    return [f"k{i}" for i in range(len(texts))], texts


@given(seed=st.integers(0, 2**16), perm=st.randoms(use_true_random=False))
def test_groups_do_not_depend_on_input_order(seed, perm):
    keys, texts = _corpus(seed)
    order = list(range(len(keys)))
    perm.shuffle(order)
    before = partition(keys, near_duplicate_groups(keys, texts, CFG))
    shuffled = near_duplicate_groups([keys[i] for i in order], [texts[i] for i in order], CFG)
    assert partition(keys, shuffled) == before
    first = {k: min(g, key=lambda x: order.index(int(x[1:]))) for g in before for k in g}
    assert all(rep == first[k] for k, rep in shuffled.items())


def _pair(rng: np.random.Generator, p: float, n_words: int = 400) -> tuple[str, str]:
    """A random text and a copy with each word replaced with probability p: shingle Jaccard
    about (1-p)^5 / (2 - (1-p)^5), from 0.9 at p = 0.01 down to 0.2 at p = 0.2."""
    a = [VOCAB[i] for i in rng.integers(0, len(VOCAB), n_words)]
    b = [VOCAB[int(rng.integers(len(VOCAB)))] if rng.random() < p else w for w in a]
    return " ".join(a), " ".join(b)


def _true_jaccard(a: str, b: str, k: int = 5) -> float:
    def shingles(t):
        w = tokenize(t)
        return {tuple(w[i : i + k]) for i in range(len(w) - k + 1)}

    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def test_minhash_collision_rate_tracks_true_jaccard_like_datasketch():
    """The fraction of equal signature values is an unbiased estimate of the true Jaccard,
    with the binomial spread sqrt(J(1-J)/num_perm) of an ideal MinHash, and agrees with
    datasketch's estimate over the same shingles."""
    datasketch = pytest.importorskip("datasketch")
    perms = 256
    cfg = NearDupConfig(num_perm=perms)
    rng = np.random.default_rng(6)
    truth, ours, theirs = [], [], []
    for p in (0.01, 0.03, 0.06, 0.1, 0.2) * 12:
        a, b = _pair(rng, p)
        truth.append(_true_jaccard(a, b))
        sig = minhash_signatures([a, b], cfg)
        ours.append(float(np.mean(sig[0] == sig[1])))
        ms = []
        for t in (a, b):
            w = tokenize(t)
            m = datasketch.MinHash(num_perm=perms)
            m.update_batch([" ".join(w[i : i + 5]).encode() for i in range(len(w) - 4)])
            ms.append(m)
        theirs.append(ms[0].jaccard(ms[1]))
    truth, ours, theirs = map(np.array, (truth, ours, theirs))
    ideal_sd = np.sqrt(np.mean(truth * (1 - truth)) / perms)
    assert abs(np.mean(ours - truth)) < 0.015
    assert np.sqrt(np.mean((ours - truth) ** 2)) < 1.5 * ideal_sd
    assert np.all(np.abs(ours - truth) < 5 * ideal_sd)
    assert abs(np.mean(ours) - np.mean(theirs)) < 0.02
    assert np.all(np.abs(ours - theirs) < 0.15)


def test_band_collisions_follow_the_lsh_s_curve():
    """Whether a pair shares one of 14 buckets of 8 rows must be a coin with heads
    probability 1 - (1 - J^8)^14, J the pair's true Jaccard, across independent seeds."""
    rng = np.random.default_rng(7)
    hits, expected, var = 0, 0.0, 0.0
    for s in range(80):
        a, b = _pair(rng, float(rng.uniform(0.01, 0.05)), 200)
        j = _true_jaccard(a, b)
        prob = 1 - (1 - j**8) ** 14
        sig = minhash_signatures([a, b], NearDupConfig(seed=s))
        hits += len(nd._lsh_candidates(sig, 14, 8)) == 1
        expected += prob
        var += prob * (1 - prob)
    assert abs(hits - expected) <= 4 * np.sqrt(var) + 1


# ------------------------------------------------------------------ union-find


@given(st.integers(1, 40).flatmap(lambda n: st.tuples(st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60))))
def test_union_many_equals_scalar_unions(case):
    n, edges = case
    a, b = UnionFind(n), UnionFind(n)
    for x, y in edges:
        a.union(x, y)
    b.union_many(np.array([e[0] for e in edges], dtype=np.int64), np.array([e[1] for e in edges], dtype=np.int64))
    ra, rb = a.roots(), b.roots()
    assert np.array_equal(ra, rb)
    for i in range(n):  # every root is the smallest member of its set
        assert ra[i] == min(j for j in range(n) if ra[j] == ra[i])


# ------------------------------------------------------------------ images


def test_phash_survives_reencode_resize_and_crop():
    img = picture(10)
    base = phash(reload(img, "PNG"))
    w, h = img.size
    variants = {
        "jpeg70": reload(img, "JPEG", quality=70),
        "resize80": reload(img.resize((int(w * 0.8), int(h * 0.8)), Image.Resampling.LANCZOS), "PNG"),
        "crop5": reload(img.crop((int(w * 0.025), int(h * 0.025), w - int(w * 0.025), h - int(h * 0.025))), "PNG"),
    }
    for name, arr in variants.items():
        assert bin(base ^ phash(arr)).count("1") <= 10, name
    other = phash(reload(picture(11), "PNG"))
    assert bin(base ^ other).count("1") > 10
    keys = ["orig", "other", *variants]
    hashes = [base, other, *(phash(a) for a in variants.values())]
    assert image_groups(keys, hashes, 10) == {"jpeg70": "orig", "resize80": "orig", "crop5": "orig"}


def test_phash_is_a_64_bit_int_and_flat_images_hash_to_zero():
    h = phash(np.asarray(picture(12)))
    assert isinstance(h, int) and 0 <= h < 2**64
    assert phash(np.full((50, 80, 3), 128, np.uint8)) == 0
    grey = picture(12).convert("L")
    assert bin(phash(np.asarray(grey)) ^ phash(np.asarray(grey.convert("RGB")))).count("1") <= 2


def test_image_groups_accepts_signed_hashes():
    h = phash(np.asarray(picture(13)))
    signed = h - (1 << 64) if h >= 1 << 63 else h
    assert image_groups(["a", "b"], [h, signed ^ 1], 10) == {"b": "a"}


def test_multi_index_hashing_finds_exactly_the_pairs_brute_force_finds():
    rng = np.random.default_rng(14)
    base = rng.integers(0, 2**63, 300, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, 300, dtype=np.uint64)
    near = []
    for b in base[:150]:  # planted neighbours at distances 0..14
        flip = rng.choice(64, int(rng.integers(0, 15)), replace=False)
        near.append(b ^ np.uint64(sum(1 << int(f) for f in flip)))
    # a hot bucket: 400 values sharing their low 16 bits, so every plan has one crowded chunk
    hot = (rng.integers(0, 2**47, 400, dtype=np.uint64) << np.uint64(16)) | np.uint64(0xBEEF)
    h = np.unique(np.concatenate([base, np.array(near, dtype=np.uint64), hot]))
    dist = np.bitwise_count(h[:, None] ^ h[None, :])
    for d in (0, 1, 3, 10, 12, 40):
        bi, bj = np.nonzero(np.triu(dist <= d, 1))
        truth = sorted(zip(bi.tolist(), bj.tolist()))
        i, j = nd.hamming_pairs(h, d)
        assert sorted(zip(i.tolist(), j.tolist())) == truth, d
    # every kind of plan the cost model can pick (d = 1 above took 32-bit chunks by binary
    # search): exact chunks, probes of radius 1, 2 and 3, and all pairs
    bi, bj = np.nonzero(np.triu(dist <= 10, 1))
    truth = sorted(zip(bi.tolist(), bj.tolist()))
    for plan in ((0, [6] * 9 + [5, 5]), (1, [11] * 4 + [10, 10]), (2, [16] * 4), (3, [22, 21, 21]), None):
        i, j = nd.hamming_pairs(h, 10, plan)
        assert sorted(zip(i.tolist(), j.tolist())) == truth, plan


# ------------------------------------------------------------------ video


def test_video_keyframe_sequences_match_through_jpeg_noise():
    frames = [np.asarray(picture(20 + i)) for i in range(6)]
    noisy = [reload(Image.fromarray(f), "JPEG", quality=60) for f in frames]
    sig, sig_noisy = video_signature(frames), video_signature(noisy)
    assert len(sig) == 6 and all(isinstance(h, int) for h in sig)
    other = video_signature([np.asarray(picture(40 + i)) for i in range(6)])
    reordered = sig[3:] + sig[:3]
    excerpt = sig[:2]
    groups = video_groups(["v", "noisy", "other", "reordered", "excerpt"], [sig, sig_noisy, other, reordered, excerpt], 10)
    assert groups == {"noisy": "v"}


def test_video_one_dropped_keyframe_still_matches():
    frames = [np.asarray(picture(50 + i)) for i in range(10)]
    sig = video_signature(frames)
    assert video_groups(["a", "b"], [sig, sig[:4] + sig[5:]], 10) == {"b": "a"}
    assert video_groups(["a", "b"], [sig, sig[:4] + sig[5:]], 10, min_matched=1.0) == {"b": "a"}
    assert video_groups(["a", "b"], [sig[:5], sig[:2] + [sig[7], sig[8]] + sig[4:5]], 10) == {}


# ------------------------------------------------------------------ audio


def test_audio_reencodes_group_and_other_signals_do_not():
    y = signal(30)
    rng = np.random.default_rng(31)
    noisy = np.clip(0.6 * y + 0.003 * rng.standard_normal(y.size).astype(np.float32), -1, 1)
    fps = {
        "orig": audio_fingerprint(roundtrip(y, "WAV", "PCM_16")),
        "flac": audio_fingerprint(roundtrip(y, "FLAC", "PCM_16")),
        "ogg": audio_fingerprint(roundtrip(y, "OGG", "VORBIS")),
        "gain_noise": audio_fingerprint(noisy),
        "other": audio_fingerprint(roundtrip(signal(32), "WAV", "PCM_16")),
        "silence": audio_fingerprint(np.zeros(32_000, np.float32)),
    }
    assert fps["orig"].dtype == np.uint64 and fps["orig"].size > 50
    assert np.all(fps["orig"][1:] > fps["orig"][:-1])  # a sorted set
    assert fps["silence"].size == 0
    groups = audio_groups(list(fps), list(fps.values()), CFG)
    assert groups == {"flac": "orig", "ogg": "orig", "gain_noise": "orig"}


def test_audio_fingerprint_ignores_gain_and_a_shifted_start():
    y = signal(33)
    a = audio_fingerprint(y)
    assert np.array_equal(a, audio_fingerprint(0.25 * y))
    shifted = audio_fingerprint(np.concatenate([np.zeros(1234, np.float32), y]))
    assert nd._jaccard_sorted(a, shifted) > 0.5


def test_audio_groups_accepts_lists_of_signed_ints():
    fp = audio_fingerprint(signal(34))
    as_list = [int(v) - (1 << 64) if int(v) >= 1 << 63 else int(v) for v in fp]
    assert audio_groups(["a", "b"], [fp, as_list], CFG) == {"b": "a"}
