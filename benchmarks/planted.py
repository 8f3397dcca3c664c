"""The planted dedup benchmark: a folder whose duplicates and corrupt files are known.

``generate`` writes originals of every modality, then plants byte-exact copies, near
duplicates (texts with a few words edited; images re-encoded as JPEG, resized or cropped;
audio re-encoded, resampled or with gain and noise; optionally re-encoded video) and corrupt
files (truncated JPEG/PNG, junk and truncated .mp4, zero-frame WAV, non-UTF-8 text, empty
files of every kind), and records the truth in ``truth.json``. ``score`` grades any dedup
report against that truth; it knows nothing of mmvc's internals, only report rows
``{"path", "status", "duplicate_of", "reason", "stage"}``.

File names are seeded random hex, so an original does not always sort before its copies:
a dedup that keeps "the first" will sometimes keep the copy, and ``score`` counts that right.

    python benchmarks/planted.py generate OUT [--seed 0] [--n 40] [--video-near]
    python benchmarks/planted.py score OUT/truth.json report.json   # JSON list or JSON lines

Needs numpy, Pillow, soundfile; PyAV for video (skipped with a note when missing).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

import numpy as np

TRUTH_VERSION = 1

# ----------------------------------------------------------------------------- text

_ONSETS = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
           "br", "ch", "cl", "dr", "fl", "gr", "pl", "pr", "sh", "st", "th", "tr"]
_NUCLEI = ["a", "e", "i", "o", "u", "ai", "ea", "ee", "ou", "oo", "io"]
_CODAS = ["", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng", "ck"]


def make_vocab(rng: np.random.Generator, size: int = 30_000) -> list[str]:
    """Pseudo-words from syllables, in Zipf rank order: text that shares common words the
    way real prose does, without shipping a corpus."""
    words: dict[str, None] = {}
    while len(words) < size:
        n_syl = int(rng.choice([1, 1, 2, 2, 2, 3, 3, 4]))
        w = "".join(_ONSETS[rng.integers(len(_ONSETS))] + _NUCLEI[rng.integers(len(_NUCLEI))] + _CODAS[rng.integers(len(_CODAS))]
                    for _ in range(n_syl))
        words.setdefault(w)
    return list(words)


class TextMaker:
    """Documents of Zipf-distributed words in sentences, and few-word edits of them."""

    def __init__(self, rng: np.random.Generator, vocab_size: int = 30_000):
        self.rng = rng
        self.vocab = make_vocab(rng, vocab_size)
        w = 1.0 / (np.arange(len(self.vocab)) + 2.7)
        self.cdf = np.cumsum(w / w.sum())

    def words(self, n: int) -> list[str]:
        idx = np.searchsorted(self.cdf, self.rng.random(n))
        return [self.vocab[min(i, len(self.vocab) - 1)] for i in idx.tolist()]

    def document(self, n_words: int) -> str:
        words = self.words(n_words)
        out, i = [], 0
        while i < len(words):
            k = int(self.rng.integers(6, 20))
            sent = words[i : i + k]
            sent[0] = sent[0].capitalize()
            if len(sent) > 6 and self.rng.random() < 0.4:
                sent[len(sent) // 2] += ","
            out.append(" ".join(sent) + ("." if self.rng.random() < 0.85 else "?"))
            i += k
        return " ".join(out) + "\n"

    def edit(self, text: str, n_edits: int) -> str:
        """Replace, delete or insert ``n_edits`` words at random places."""
        toks = text.split()
        for _ in range(n_edits):
            op = self.rng.choice(["replace", "replace", "delete", "insert"])
            p = int(self.rng.integers(len(toks)))
            if op == "replace":
                toks[p] = self.words(1)[0]
            elif op == "delete" and len(toks) > 1:
                del toks[p]
            else:
                toks.insert(p, self.words(1)[0])
        return " ".join(toks) + "\n"


def text_corpus(seed: int, n_docs: int, near_fraction: float = 0.1, words=(150, 250), edits=(1, 3)):
    """(texts, origin): ``origin[i]`` is the index of the document text i was edited from,
    or -1 for an original. Near duplicates are spread through the corpus, not appended."""
    rng = np.random.default_rng(seed)
    maker = TextMaker(rng)
    n_near = int(round(n_docs * near_fraction))
    n_orig = n_docs - n_near
    texts = [maker.document(int(rng.integers(words[0], words[1] + 1))) for _ in range(n_orig)]
    origin = [-1] * n_orig
    for _ in range(n_near):
        src = int(rng.integers(n_orig))
        texts.append(maker.edit(texts[src], int(rng.integers(edits[0], edits[1] + 1))))
        origin.append(src)
    perm = rng.permutation(n_docs)
    inv = np.empty(n_docs, dtype=np.int64)
    inv[perm] = np.arange(n_docs)
    return [texts[p] for p in perm.tolist()], [-1 if origin[p] < 0 else int(inv[origin[p]]) for p in perm.tolist()]


# ----------------------------------------------------------------------------- images


def synthetic_image(rng: np.random.Generator, width: int, height: int):
    """A gradient background under a seeded handful of shapes: real low-frequency structure
    for perceptual hashing, and every image different from every other."""
    from PIL import Image, ImageDraw

    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    ang = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    t = (np.cos(ang) * xx / width + np.sin(ang) * yy / height)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    bg = (c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]).astype(np.uint8)
    img = Image.fromarray(bg, "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(4, 10))):
        col = tuple(int(c) for c in rng.integers(0, 256, 3))
        x0, y0 = rng.uniform(-0.1, 0.9) * width, rng.uniform(-0.1, 0.9) * height
        w, h = rng.uniform(0.1, 0.6) * width, rng.uniform(0.1, 0.6) * height
        kind = rng.integers(4)
        if kind == 0:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=col)
        elif kind == 1:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=col)
        elif kind == 2:
            pts = [(float(rng.uniform(0, width)), float(rng.uniform(0, height))) for _ in range(int(rng.integers(3, 7)))]
            draw.polygon(pts, fill=col)
        else:
            draw.line([x0, y0, x0 + w, y0 + h], fill=col, width=int(rng.integers(2, max(3, width // 20))))
    arr = np.asarray(img).astype(np.int16) + rng.integers(-6, 7, (height, width, 3), dtype=np.int16)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _save(img, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def image_variants(img, rng: np.random.Generator) -> dict[str, tuple[bytes, str]]:
    """{transform: (bytes, extension)} of the near-duplicate edits the benchmark plants."""
    from PIL import Image

    w, h = img.size
    out = {"jpeg70": (_save(img, "JPEG", quality=70), "jpg")}
    small = img.resize((max(1, round(w * 0.8)), max(1, round(h * 0.8))), Image.Resampling.LANCZOS)
    out["resize80"] = (_save(small, "PNG"), "png")
    # 5% off each dimension, split at random between the two sides
    dx, dy = round(w * 0.05), round(h * 0.05)
    lx, ty = int(rng.integers(0, dx + 1)), int(rng.integers(0, dy + 1))
    out["crop5"] = (_save(img.crop((lx, ty, w - (dx - lx), h - (dy - ty))), "JPEG", quality=90), "jpg")
    return out


# ----------------------------------------------------------------------------- audio


def synthetic_audio(rng: np.random.Generator, sr: int, seconds: float) -> np.ndarray:
    """A seeded mix of a melody of harmonic notes, chirps and filtered noise bursts, mono
    float32 peaking at 0.8: tonal peaks to fingerprint, and no two clips alike."""
    n = int(sr * seconds)
    t = np.arange(n) / sr
    y = np.zeros(n, dtype=np.float64)
    pos = 0.0
    while pos < seconds:
        dur = float(rng.uniform(0.12, 0.6))
        f0 = 110.0 * 2 ** (rng.integers(0, 40) / 12 + rng.uniform(-0.02, 0.02))
        a, b = int(pos * sr), min(n, int((pos + dur) * sr))
        tt = t[a:b] - pos
        env = np.minimum(1.0, tt / 0.01) * np.exp(-tt * rng.uniform(2, 8))
        for k, amp in enumerate(rng.uniform(0.2, 1.0, int(rng.integers(1, 5))), start=1):
            if f0 * k < sr / 2 - 500:
                y[a:b] += amp / k * env * np.sin(2 * np.pi * f0 * k * tt + rng.uniform(0, 2 * np.pi))
        pos += dur * float(rng.uniform(0.7, 1.3))
    for _ in range(int(rng.integers(1, 4))):
        a = int(rng.uniform(0, seconds - 0.5) * sr)
        m = int(rng.uniform(0.3, 1.5) * sr)
        tt = t[a : a + m] - t[a]
        f1, f2 = rng.uniform(200, 3000, 2)
        phase = 2 * np.pi * (f1 * tt + (f2 - f1) / (2 * tt[-1] + 1e-9) * tt**2) if tt.size else tt
        y[a : a + m] += 0.4 * np.sin(phase) * np.hanning(tt.size)
    for _ in range(int(rng.integers(2, 6))):
        a = int(rng.uniform(0, seconds - 0.2) * sr)
        m = int(rng.uniform(0.05, 0.2) * sr)
        burst = rng.standard_normal(m)
        burst = np.convolve(burst, np.hanning(int(rng.integers(3, 40))), mode="same")
        y[a : a + m] += 0.3 * burst / (np.abs(burst).max() + 1e-9) * np.hanning(m)
    return (0.8 * y / (np.abs(y).max() + 1e-9)).astype(np.float32)


def _sf_bytes(y: np.ndarray, sr: int, fmt: str, subtype: str | None = None) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def _resample(y: np.ndarray, sr: int, new_sr: int) -> np.ndarray:
    """Band-limited resampling by FFT (the benchmark must not depend on scipy)."""
    n_new = int(round(y.size * new_sr / sr))
    spec = np.fft.rfft(y)
    keep = min(spec.size, n_new // 2 + 1)
    out = np.zeros(n_new // 2 + 1, dtype=complex)
    out[:keep] = spec[:keep]
    return (np.fft.irfft(out, n_new) * (n_new / y.size)).astype(np.float32)


def audio_variants(y: np.ndarray, sr: int, rng: np.random.Generator) -> dict[str, tuple[bytes, str]]:
    """{transform: (bytes, extension)}: lossy re-encodes, a resample, and gain plus noise."""
    import soundfile as sf

    out = {"ogg": (_sf_bytes(y, sr, "OGG", "VORBIS"), "ogg")}
    if "MP3" in sf.available_formats():
        out["mp3"] = (_sf_bytes(y, sr, "MP3", "MPEG_LAYER_III"), "mp3")
    new_sr = 22_050 if sr != 22_050 else 16_000
    out["resample"] = (_sf_bytes(_resample(y, sr, new_sr), new_sr, "WAV", "PCM_16"), "wav")
    rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2))) or 1e-3
    noisy = y * float(rng.uniform(0.5, 0.8)) + rng.standard_normal(y.size).astype(np.float32) * rms * 10 ** (-35 / 20)
    out["gain_noise"] = (_sf_bytes(np.clip(noisy, -1, 1), sr, "FLAC", "PCM_16"), "flac")
    return out


# ----------------------------------------------------------------------------- video


def synthetic_video(rng: np.random.Generator, seconds: float = 2.0, fps: int = 12, size=(160, 120),
                    bitrate: int = 400_000) -> bytes | None:
    """An H.264 MP4 of shapes drifting over a gradient, or None without PyAV."""
    import importlib.util

    if importlib.util.find_spec("av") is None:
        return None
    base = np.asarray(synthetic_image(rng, size[0] + 64, size[1] + 64))
    n = int(seconds * fps)
    vx, vy = rng.uniform(-1.5, 1.5, 2)
    frames = []
    for i in range(n):
        ox = int(32 + vx * i) % 64
        oy = int(32 + vy * i) % 64
        frames.append(np.ascontiguousarray(base[oy : oy + size[1], ox : ox + size[0]]))
    return _encode_video(frames, fps, bitrate)


def _encode_video(frames: list[np.ndarray], fps: int, bitrate: int, gop: int = 6) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height = frames[0].shape[1], frames[0].shape[0]
        s.pix_fmt = "yuv420p"
        s.bit_rate = bitrate
        s.codec_context.gop_size = gop
        s.options = {"preset": "ultrafast", "threads": "1"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return buf.getvalue()


def _reencode_video(data: bytes, bitrate: int) -> bytes:
    import av

    with av.open(io.BytesIO(data)) as c:
        stream = c.streams.video[0]
        fps = int(round(float(stream.average_rate or 12)))
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(stream)]
    return _encode_video(frames, fps, bitrate, gop=9)


# ----------------------------------------------------------------------------- generate


def _zero_frame_wav(sr: int = 16_000) -> bytes:
    import struct

    fmt = struct.pack("<HHIIHH", 1, 1, sr, sr * 2, 2, 16)
    return b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", 0)


def generate(out_dir: str | os.PathLike, seed: int = 0, n_originals: int = 40, *, video: bool = True,
             video_near: bool = False) -> dict:
    """Write the benchmark into ``out_dir`` (created; must be empty or absent) and return the
    truth also written to ``out_dir/truth.json``.

    ``n_originals`` originals of text, image and audio each (video: a quarter as many, at
    least two). About half the originals get near duplicates (images: 1-3 of JPEG-70, 80%
    resize, 5% crop; audio: 1-2 of Vorbis, MP3, 22.05/16 kHz resample, gain plus noise at
    -35 dB; texts: 1-2 copies with 1 edit per ~80 words, at least 1), and about a quarter get a
    byte-exact copy. Truth
    kinds: ``original``, ``exact`` and ``near`` (with ``of``, the original it derives from),
    and ``corrupt``. Video near duplicates (re-encodes at another bitrate and GOP) are only
    planted with ``video_near``, as the issue's quality target does not cover video."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if any(p.name != "truth.json" for p in out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    rng = np.random.default_rng(seed)
    items: dict[str, dict] = {}
    used: set[str] = set()

    def name(folder: str, ext: str) -> str:
        while True:
            rel = f"{folder}/{rng.integers(1 << 40):010x}.{ext}"
            if rel not in used:
                used.add(rel)
                return rel

    def put(rel: str, data: bytes, kind: str, modality: str, of: str | None = None, transform: str | None = None) -> None:
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        items[rel] = {"kind": kind, "modality": modality, "of": of, "transform": transform}

    def plant_exact(rel: str, data: bytes, modality: str) -> None:
        if rng.random() < 0.25:
            put(name(modality, rel.rsplit(".", 1)[1]), data, "exact", modality, rel, "copy")

    # text
    maker = TextMaker(rng)
    for _ in range(n_originals):
        doc = maker.document(int(rng.integers(120, 400)))
        rel = name("text", "txt")
        put(rel, doc.encode(), "original", "text")
        plant_exact(rel, doc.encode(), "text")
        if rng.random() < 0.5:
            for _ in range(int(rng.integers(1, 3))):
                k = int(rng.integers(1, max(2, len(doc.split()) // 80) + 1))
                put(name("text", "txt"), maker.edit(doc, k).encode(), "near", "text", rel, f"edit{k}")

    # images
    for _ in range(n_originals):
        w, h = int(rng.integers(160, 480)), int(rng.integers(160, 480))
        img = synthetic_image(rng, w, h)
        as_png = rng.random() < 0.7
        data = _save(img, "PNG") if as_png else _save(img, "JPEG", quality=95)
        rel = name("image", "png" if as_png else "jpg")
        put(rel, data, "original", "image")
        plant_exact(rel, data, "image")
        if rng.random() < 0.5:
            variants = image_variants(img, rng)
            for t in rng.choice(sorted(variants), size=int(rng.integers(1, 4)), replace=False).tolist():
                vdata, ext = variants[t]
                put(name("image", ext), vdata, "near", "image", rel, t)

    # audio
    for _ in range(n_originals):
        sr = int(rng.choice([16_000, 22_050, 44_100]))
        y = synthetic_audio(rng, sr, float(rng.uniform(3, 9)))
        as_flac = rng.random() < 0.3
        data = _sf_bytes(y, sr, "FLAC", "PCM_16") if as_flac else _sf_bytes(y, sr, "WAV", "PCM_16")
        rel = name("audio", "flac" if as_flac else "wav")
        put(rel, data, "original", "audio")
        plant_exact(rel, data, "audio")
        if rng.random() < 0.5:
            variants = audio_variants(y, sr, rng)
            for t in rng.choice(sorted(variants), size=int(rng.integers(1, 3)), replace=False).tolist():
                vdata, ext = variants[t]
                put(name("audio", ext), vdata, "near", "audio", rel, t)

    # video
    if video:
        for _ in range(max(2, n_originals // 4)):
            data = synthetic_video(rng)
            if data is None:
                print("planted: PyAV missing, no video originals", file=sys.stderr)
                break
            rel = name("video", "mp4")
            put(rel, data, "original", "video")
            plant_exact(rel, data, "video")
            if video_near and rng.random() < 0.5:
                put(name("video", "mp4"), _reencode_video(data, 150_000), "near", "video", rel, "reencode")

    # corrupt files, every modality
    some = {m: next((r for r, v in items.items() if v["modality"] == m and v["kind"] == "original"), None)
            for m in ("image", "video")}
    jpeg = _save(synthetic_image(rng, 200, 150), "JPEG", quality=85)
    png = _save(synthetic_image(rng, 200, 150), "PNG")
    corrupt = {
        ("image", "jpg", "truncated_jpeg"): jpeg[: len(jpeg) // 2],
        ("image", "png", "truncated_png"): png[: len(png) // 2],
        ("image", "png", "junk_png"): rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(),
        ("video", "mp4", "junk_mp4"): rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        ("audio", "wav", "zero_frame_wav"): _zero_frame_wav(),
        ("text", "txt", "non_utf8"): "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, na\u00efve fa\u00e7ade. ".encode("latin-1") * 5 + b"\xc3\x28\xa0\xa1\xe2\x28\xa1",
    }
    if some["video"]:
        vbytes = (out / some["video"]).read_bytes()
        corrupt[("video", "mp4", "truncated_mp4")] = vbytes[: len(vbytes) // 3]
    for modality, ext in (("text", "txt"), ("image", "png"), ("image", "jpg"), ("audio", "wav"), ("audio", "flac"), ("video", "mp4")):
        corrupt[(modality, ext, f"empty_{ext}")] = b""
    for (modality, ext, why), data in corrupt.items():
        put(name(modality, ext), data, "corrupt", modality, None, why)

    truth = {"version": TRUTH_VERSION, "seed": seed, "n_originals": n_originals, "items": dict(sorted(items.items()))}
    (out / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
    return truth


# ----------------------------------------------------------------------------- score


def _norm(p: str) -> str:
    p = p.replace("\\", "/")
    while p.startswith("./"):
        p = p[2:]
    return p


def _locator(truth_keys: set[str]):
    """Report paths are repository keys, which may carry a prefix (``planted/text/…`` when
    the folder was added as a subfolder); match a path to the truth key it ends with."""
    def locate(path: str | None) -> str | None:
        if not path:
            return None
        p = _norm(path)
        if p in truth_keys:
            return p
        parts = p.split("/")
        for k in range(1, len(parts)):
            tail = "/".join(parts[k:])
            if tail in truth_keys:
                return tail
        return None
    return locate


def score(truth_path: str | os.PathLike, report_rows) -> dict:
    """Grade report rows against ``truth.json``.

    - exact / near recall: a planted copy counts as found when it and its original end at
      the same kept item, following ``duplicate_of`` until an item that is not a duplicate
      (so keeping the copy and flagging the original is right too).
    - duplicate precision: of all rows flagged duplicate, those whose ``duplicate_of`` is in
      the same family (the original and everything planted from it). ``near_precision`` is
      the same over flags that are not byte-identical pairs (an exact copy flagged as a copy
      of its original or vice versa can only be right), i.e. flags a near-dup or semantic
      stage had to judge.
    - corrupt rejection rate: planted corrupt files whose status is ``rejected``; and the
      false rejection rate over everything else.
    A truth item without a row counts as not found / not rejected.
    """
    truth = json.loads(Path(truth_path).read_text())
    items: dict[str, dict] = truth["items"]
    locate = _locator(set(items))
    rows: dict[str, dict] = {}
    unmatched = 0
    for r in report_rows:
        k = locate(r.get("path"))
        if k is None:
            unmatched += 1
        else:
            rows[k] = r

    def family(k: str) -> str:
        return items[k]["of"] or k

    def byte_class(k: str) -> str:
        return family(k) if items[k]["kind"] in ("original", "exact") else k

    def kept(k: str) -> str | None:
        seen = set()
        while k is not None and k not in seen:
            seen.add(k)
            r = rows.get(k)
            if r is None or r.get("status") != "duplicate":
                return k
            nxt = locate(r.get("duplicate_of"))
            if nxt is None:
                return None
            k = nxt
        return None

    def recall(kind: str, modality: str | None = None) -> dict:
        ks = [k for k, v in items.items() if v["kind"] == kind and (modality is None or v["modality"] == modality)]
        found = 0
        for k in ks:
            a, b = kept(k), kept(family(k))
            found += a is not None and a == b and k in rows
        return {"total": len(ks), "found": found, "recall": found / len(ks) if ks else None}

    flags = {"all": [0, 0], "near": [0, 0]}
    by_stage: dict[str, list[int]] = {}
    by_modality: dict[str, list[int]] = {}
    false_flags = []
    for k, r in sorted(rows.items()):
        if r.get("status") != "duplicate" or items[k]["kind"] == "corrupt":
            continue
        tgt = locate(r.get("duplicate_of"))
        ok = tgt is not None and items[tgt]["kind"] != "corrupt" and family(tgt) == family(k)
        flags["all"][0] += 1
        flags["all"][1] += ok
        if tgt is None or byte_class(tgt) != byte_class(k):
            flags["near"][0] += 1
            flags["near"][1] += ok
            m = by_modality.setdefault(items[k]["modality"], [0, 0])
            m[0] += 1
            m[1] += ok
        s = by_stage.setdefault(str(r.get("stage")), [0, 0])
        s[0] += 1
        s[1] += ok
        if not ok:
            false_flags.append({"path": k, "duplicate_of": r.get("duplicate_of"), "stage": r.get("stage")})

    corrupt = [k for k, v in items.items() if v["kind"] == "corrupt"]
    rejected = [k for k in corrupt if rows.get(k, {}).get("status") == "rejected"]
    clean = [k for k, v in items.items() if v["kind"] != "corrupt"]
    wrongly = [k for k in clean if rows.get(k, {}).get("status") == "rejected"]

    def prec(pair):
        return pair[1] / pair[0] if pair[0] else None

    near = recall("near")
    result = {
        "items": len(items),
        "rows_matched": len(rows),
        "rows_unmatched": unmatched,
        "missing": len(items) - len(rows),
        "exact_recall": recall("exact")["recall"],
        "near_recall": near["recall"],
        "duplicate_precision": prec(flags["all"]),
        "near_precision": prec(flags["near"]),
        "corrupt_rejection_rate": len(rejected) / len(corrupt) if corrupt else None,
        "false_rejection_rate": len(wrongly) / len(clean) if clean else None,
        "near_by_modality": {m: {**recall("near", m), "flags": by_modality.get(m, [0, 0])[0],
                                 "precision": prec(by_modality.get(m, [0, 0]))}
                             for m in sorted({v["modality"] for v in items.values() if v["kind"] == "near"})},
        "exact_by_modality": {m: recall("exact", m) for m in sorted({v["modality"] for v in items.values() if v["kind"] == "exact"})},
        "flags_by_stage": {s: {"flags": v[0], "correct": v[1]} for s, v in sorted(by_stage.items())},
        "false_flags": false_flags[:50],
        "missed_near": [k for k, v in items.items() if v["kind"] == "near" and not (kept(k) is not None and kept(k) == kept(family(k)) and k in rows)][:50],
        "corrupt_not_rejected": [k for k in corrupt if k not in rejected],
        "wrongly_rejected": wrongly[:50],
    }
    nr, np_ = result["near_recall"], result["near_precision"]
    result["target_met"] = bool(nr is not None and nr >= 0.95 and (np_ is None or np_ >= 0.98))
    return result


def _load_rows(path: str) -> list[dict]:
    text = Path(path).read_text()
    stripped = text.lstrip()
    if stripped.startswith("["):
        return json.loads(text)
    if stripped.startswith("{") and "\n{" not in stripped:
        doc = json.loads(text)
        return doc.get("rows") or doc.get("items") or []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="write a planted benchmark folder")
    g.add_argument("out")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--n", type=int, default=40, help="originals per modality")
    g.add_argument("--no-video", action="store_true")
    g.add_argument("--video-near", action="store_true", help="also plant re-encoded videos")
    s = sub.add_parser("score", help="grade a report (JSON list, {'rows': [...]}, or JSON lines)")
    s.add_argument("truth")
    s.add_argument("report")
    args = ap.parse_args(argv)
    if args.cmd == "generate":
        truth = generate(args.out, args.seed, args.n, video=not args.no_video, video_near=args.video_near)
        kinds: dict[str, int] = {}
        for v in truth["items"].values():
            kinds[v["kind"]] = kinds.get(v["kind"], 0) + 1
        print(json.dumps({"out": args.out, "items": len(truth["items"]), **kinds}))
        return 0
    res = score(args.truth, _load_rows(args.report))
    print(json.dumps(res, indent=1))
    return 0 if res["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
