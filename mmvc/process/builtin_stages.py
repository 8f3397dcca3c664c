"""Quality stages that ship with mmvc, written on the public stage API (mmvc.process.stages)
exactly as a user's stage would be, and enabled by name in ``[process] stages``
(``stages = ["text_quality", "audio_silence"]``; docs/process.md, "Built-in stages").

They only measure: each output is a catalog column, and what to reject is the repository's
choice, written as a ``[process.gates.NAME] reject_if`` over those columns (the documented
thresholds are the cited sources', not defaults applied behind the user's back).
"""

from __future__ import annotations

import re
from collections import Counter

_PARAGRAPHS = re.compile(r"\n\s*\n")
_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~«»“”‘’„…—–·"
_BULLETS = ("•", "●", "○", "◦", "▪", "‣", "-", "*")
_ELLIPSES = ("...", "…")
TOP_NGRAMS = (2, 3, 4)
DUP_NGRAMS = (5, 6, 7, 8, 9, 10)


def _dup_fracs(parts: list[str]) -> tuple[float, float]:
    """Gopher's duplicate fractions of lines or paragraphs: the share of elements that repeat an
    earlier one, and the share of their characters (of all the elements' characters)."""
    if not parts:
        return 0.0, 0.0
    seen: set[str] = set()
    dup = dup_chars = 0
    for p in parts:
        if p in seen:
            dup += 1
            dup_chars += len(p)
        seen.add(p)
    return dup / len(parts), dup_chars / max(sum(len(p) for p in parts), 1)


def _top_ngram_frac(words: list[str], n: int, total: int) -> float:
    """Characters (of words) inside every occurrence of the most frequent word n-gram (of those
    as frequent, the longest); 0 when no n-gram occurs twice (nothing repeats)."""
    counts = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    times, chars = max(((c, sum(len(w) for w in g)) for g, c in counts.items()), default=(0, 0))
    return 0.0 if times < 2 else times * chars / total


def _dup_ngram_frac(words: list[str], n: int, total: int) -> float:
    """Characters (of words) covered by n-grams occurring more than once, each word counted once
    however many duplicate n-grams overlap it."""
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    counts = Counter(grams)
    covered = [False] * len(words)
    for i, g in enumerate(grams):
        if counts[g] > 1:
            covered[i:i + n] = [True] * n
    return sum(len(w) for w, c in zip(words, covered) if c) / total


def text_quality(text: str) -> dict:
    """The Gopher measures of one text (see ``TextQuality``)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    paragraphs = [p.strip() for p in _PARAGRAPHS.split(text) if p.strip()]
    words = [w for w in (t.strip(_PUNCT).lower() for t in text.split()) if w]
    total = sum(len(w) for w in words)
    dup_line, dup_line_chars = _dup_fracs(lines)
    dup_para, dup_para_chars = _dup_fracs(paragraphs)
    symbols = text.count("#") + text.count("...") + text.count("…")
    out = {
        "word_count": len(words),
        "mean_word_len": total / len(words) if words else 0.0,
        "symbol_word_ratio": symbols / len(words) if words else 0.0,
        "bullet_line_frac": sum(ln.startswith(_BULLETS) for ln in lines) / len(lines) if lines else 0.0,
        "ellipsis_line_frac": sum(ln.endswith(_ELLIPSES) for ln in lines) / len(lines) if lines else 0.0,
        "dup_line_frac": dup_line,
        "dup_line_char_frac": dup_line_chars,
        "dup_para_frac": dup_para,
        "dup_para_char_frac": dup_para_chars,
    }
    for n in TOP_NGRAMS:
        out[f"top_{n}gram_frac"] = _top_ngram_frac(words, n, total) if total else 0.0
    for n in DUP_NGRAMS:
        out[f"dup_{n}gram_frac"] = _dup_ngram_frac(words, n, total) if total else 0.0
    return out


class TextQuality:
    """Gopher's repetition and quality measures (Rae et al. 2021, "Scaling Language Models:
    Methods, Analysis & Insights from Training Gopher", Appendix A.1.1, Table A1). Words are the
    whitespace tokens with surrounding punctuation stripped, lowercased; pure punctuation is not
    a word. Character fractions are of the words' characters (whitespace excluded)."""

    name = "text_quality"
    version = 1
    modalities = ("text",)
    outputs = {"word_count": "int64", "mean_word_len": "float64", "symbol_word_ratio": "float64",
               "bullet_line_frac": "float64", "ellipsis_line_frac": "float64",
               "dup_line_frac": "float64", "dup_line_char_frac": "float64",
               "dup_para_frac": "float64", "dup_para_char_frac": "float64",
               **{f"top_{n}gram_frac": "float64" for n in TOP_NGRAMS},
               **{f"dup_{n}gram_frac": "float64" for n in DUP_NGRAMS}}
    batch_size = 256

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        rows = [text_quality(t or "") for t in batch["text"]]
        return {col: [r[col] for r in rows] for col in self.outputs}


class AudioSilence:
    """Silence and noise floor of an audio item, from its samples (decoded with libsndfile:
    WAV, FLAC, OGG/Vorbis/Opus, MP3). The signal is mixed to mono and cut into frames of
    ``frame_ms``; a frame's level is its RMS in dBFS (full scale = 0 dB). ``silence_frac`` is
    the share of frames below ``silence_dbfs``; ``noise_floor_dbfs`` the ``floor_percentile``-th
    percentile of the frame levels (the level the quiet parts sit at); ``peak_dbfs`` the
    loudest sample. A file libsndfile cannot read is a ``stage_error`` verdict."""

    name = "audio_silence"
    version = 1
    modalities = ("audio",)
    inputs = ("bytes",)
    outputs = {"silence_frac": "float64", "noise_floor_dbfs": "float64", "peak_dbfs": "float64",
               "audio_seconds": "float64"}
    batch_size = 16

    def __init__(self, frame_ms: float = 20.0, silence_dbfs: float = -50.0, floor_percentile: float = 10.0):
        self.frame_ms = float(frame_ms)
        self.silence_dbfs = float(silence_dbfs)
        self.floor_percentile = float(floor_percentile)

    def measure(self, data: bytes) -> dict:
        import io

        import numpy as np
        import soundfile as sf

        samples, rate = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
        mono = samples.mean(axis=1)
        if not mono.size:
            return {"silence_frac": 1.0, "noise_floor_dbfs": None, "peak_dbfs": None, "audio_seconds": 0.0}
        hop = max(int(rate * self.frame_ms / 1000), 1)
        frames = mono[: len(mono) // hop * hop].reshape(-1, hop) if len(mono) >= hop else mono[None, :]
        rms = np.sqrt((frames ** 2).mean(axis=1))
        db = 20 * np.log10(np.maximum(rms, 1e-10))  # digital silence reads -200 dBFS, not -inf
        peak = float(np.abs(mono).max())
        return {"silence_frac": float((db < self.silence_dbfs).mean()),
                "noise_floor_dbfs": float(np.percentile(db, self.floor_percentile)),
                "peak_dbfs": float(20 * np.log10(max(peak, 1e-10))), "audio_seconds": len(mono) / rate}

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        rows = [self.measure(b) for b in batch["bytes"]]
        return {col: [r[col] for r in rows] for col in self.outputs}
