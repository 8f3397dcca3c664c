"""Stage 2 of ``mmvc process``: cheap rule gates per modality, run on what stage 1 extracted.

The gates read only ``Decoded.features`` and ``Decoded.text``: no blob is decoded twice, and a
gate's verdict depends on nothing but the item and ``[process.gates.*]`` in
``.mmvc/config.toml``. Each setting switches one check off when set to ``false`` or ``0``
(TOML has no null; ``None`` does the same from Python), so a corpus that breaks one heuristic
— CJK text and word length, say — keeps the others.

Text defaults follow NeMo Curator's heuristic filters (themselves from Gopher and C4), relaxed
where multimodal data differs from web pages: ``min_words`` is 3, not 50, because captions and
transcripts are short.

=============================  =========  =====================  ===========================================
setting                        default    reason                 rejects when
=============================  =========  =====================  ===========================================
text.min_words                 3          text_too_short         fewer words (Han/kana chars count as words)
text.max_words                 100000     text_too_long          more words
text.min_mean_word_length      3          text_word_length       mean length of space-separated words below
text.max_mean_word_length      10         text_word_length       ... above (minified code, base64, hashes)
text.max_symbol_to_word_ratio  0.1        text_symbols           share of words that are '#'-runs or ellipses
text.max_non_alnum_ratio       0.25       text_non_alnum         share of chars neither alphanumeric nor space
text.max_digit_ratio           0.15       text_digits            share of chars that are digits
text.max_url_ratio             0.2        text_urls              share of chars inside URLs
text.max_repeated_line_ratio   0.3        text_repeated_lines    share of non-blank lines repeating an earlier
text.languages                 (off)      text_language          detected language not in the list
image.min_side                 32         image_too_small        shorter side in pixels below
image.max_aspect_ratio         10         image_aspect_ratio     longer side / shorter side above
image.max_pixels               178956970  decompression_bomb     (applied by stage 1, before decoding)
video.min_duration_s           0.5        video_too_short        shorter
video.max_duration_s           36000      video_too_long         longer
video.min_width                64         video_too_small        narrower
video.min_height               64         video_too_small        lower
audio.min_duration_s           0.2        audio_too_short        shorter
audio.max_duration_s           36000      audio_too_long         longer
audio.min_sample_rate          8000       audio_sample_rate      lower sample rate
audio.max_silence_ratio        0.95       audio_silent           share of 20 ms windows below -50 dBFS above
other.max_size                 (off)      other_too_large        more bytes
other.extensions               (off)      other_extension        extension (lowercase, no dot) not listed
=============================  =========  =====================  ===========================================

Reason codes are stored with rejected items, so ``GATE_REASONS`` is append-only.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import TypeGuard, TypeVar

from mmvc.core.modality import AUDIO, IMAGE, MODALITIES, OTHER, TEXT, VIDEO
from mmvc.errors import FormatError
from mmvc.process.decode import DEFAULT_MAX_PIXELS, language_detector_available, split_words

# Bump when a check's meaning changes for the same settings, so cached verdicts are recomputed.
GATES_VERSION = 1

GATE_REASONS = {
    "text_too_short": "fewer words than text.min_words",
    "text_too_long": "more words than text.max_words",
    "text_word_length": "mean word length outside text.min/max_mean_word_length",
    "text_symbols": "too many '#' or ellipsis words (text.max_symbol_to_word_ratio)",
    "text_non_alnum": "too many characters that are neither alphanumeric nor whitespace (text.max_non_alnum_ratio)",
    "text_digits": "too many digits (text.max_digit_ratio)",
    "text_urls": "too much of the text is URLs (text.max_url_ratio)",
    "text_repeated_lines": "too many duplicate lines (text.max_repeated_line_ratio)",
    "text_language": "detected language not in text.languages",
    "image_too_small": "shorter side below image.min_side",
    "image_aspect_ratio": "aspect ratio above image.max_aspect_ratio",
    "video_too_short": "duration below video.min_duration_s",
    "video_too_long": "duration above video.max_duration_s",
    "video_too_small": "frame below video.min_width or video.min_height",
    "audio_too_short": "duration below audio.min_duration_s",
    "audio_too_long": "duration above audio.max_duration_s",
    "audio_sample_rate": "sample rate below audio.min_sample_rate",
    "audio_silent": "silence ratio above audio.max_silence_ratio",
    "other_too_large": "size above other.max_size",
    "other_extension": "extension not in other.extensions",
}


@dataclass
class TextGates:
    min_words: int | None = 3
    max_words: int | None = 100_000
    min_mean_word_length: float | None = 3
    max_mean_word_length: float | None = 10
    max_symbol_to_word_ratio: float | None = 0.1
    max_non_alnum_ratio: float | None = 0.25
    max_digit_ratio: float | None = 0.15
    max_url_ratio: float | None = 0.2
    max_repeated_line_ratio: float | None = 0.3
    languages: list[str] | None = None


@dataclass
class ImageGates:
    min_side: int | None = 32
    max_aspect_ratio: float | None = 10
    max_pixels: int | None = DEFAULT_MAX_PIXELS  # read by stage 1: decode_item(max_pixels=...)


@dataclass
class VideoGates:
    min_duration_s: float | None = 0.5
    max_duration_s: float | None = 36_000
    min_width: int | None = 64
    min_height: int | None = 64


@dataclass
class AudioGates:
    min_duration_s: float | None = 0.2
    max_duration_s: float | None = 36_000
    min_sample_rate: int | None = 8_000
    max_silence_ratio: float | None = 0.95


@dataclass
class OtherGates:
    max_size: int | None = None  # bytes
    extensions: list[str] | None = None  # lowercase, without the dot; "" for a file without one


_TABLES = {"text": TextGates, "image": ImageGates, "video": VideoGates, "audio": AudioGates, "other": OtherGates}


@dataclass
class GateConfig:
    text: TextGates = field(default_factory=TextGates)
    image: ImageGates = field(default_factory=ImageGates)
    video: VideoGates = field(default_factory=VideoGates)
    audio: AudioGates = field(default_factory=AudioGates)
    other: OtherGates = field(default_factory=OtherGates)

    @classmethod
    def from_toml(cls, table: dict | None) -> GateConfig:
        """From the ``[process.gates]`` table (``{"text": {...}, "image": {...}, ...}``).

        A misspelt key would otherwise silently leave a default gate in force, so anything
        unknown is a FormatError naming it and listing the valid keys."""
        table = table or {}
        if not isinstance(table, dict):
            raise FormatError("[process.gates] must be a table", "see docs/process.md")
        out = cls()
        for name, sub in table.items():
            if name not in _TABLES:
                raise FormatError(f"unknown table [process.gates.{name}]", f"valid tables: {', '.join(_TABLES)} (docs/process.md)")
            if not isinstance(sub, dict):
                raise FormatError(f"process.gates.{name} must be a table", f"write it as [process.gates.{name}]")
            kind = _TABLES[name]
            valid = [f.name for f in dataclasses.fields(kind)]
            values = {}
            for key, value in sub.items():
                if key not in valid:
                    raise FormatError(f"unknown setting process.gates.{name}.{key}", f"valid settings: {', '.join(valid)} (docs/process.md)")
                values[key] = _setting(f"process.gates.{name}.{key}", key, value)
            setattr(out, name, kind(**values))
        if out.text.languages and not language_detector_available():
            raise FormatError(
                "process.gates.text.languages is set but no language detector is installed",
                "install the process extra (pip install 'mmvc[process]' brings py3langid), or remove the setting",
            )
        return out

    def config_dict(self) -> dict:
        """Settings in a canonical JSON-able form, for the stage config hash: two spellings of
        'off' (false, 0) hash the same."""
        out: dict = {"version": GATES_VERSION}
        for name in _TABLES:
            sub = dataclasses.asdict(getattr(self, name))
            out[name] = {k: _canonical(v) for k, v in sorted(sub.items())}
        return out


def _setting(where: str, key: str, value):
    if value is None or value is False:
        return None
    if key == "extensions":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise FormatError(f"{where} must be a list of file extensions", 'e.g. extensions = ["npy", "csv", "json"], or false for any')
        return sorted({v.strip().lstrip(".").lower() for v in value}) or None
    if key == "languages":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise FormatError(f"{where} must be a list of language codes", 'e.g. languages = ["en", "de"], or false for any')
        return [v.strip().lower() for v in value] or None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FormatError(f"{where} must be a number, got {value!r}", "use a number, or false (or 0) to switch the check off")
    if value < 0:
        raise FormatError(f"{where} must not be negative, got {value!r}", "use a number, or false (or 0) to switch the check off")
    return value or None


def _canonical(v):
    if v is None or v is False or v == 0 or v == []:
        return None
    if isinstance(v, list):
        return sorted(v)
    return v


_T = TypeVar("_T")


def _on(v: _T | None) -> TypeGuard[_T]:
    return v is not None and v is not False and v != 0 and v != []


def check(decoded, modality: int, cfg: GateConfig | None = None) -> tuple[str | None, str]:
    """(reason, detail) for the first gate the item fails, or (None, "") when it passes.

    An item stage 1 rejected keeps its own reason, so callers may run every item through here."""
    cfg = cfg or GateConfig()
    if decoded.status != "ok":
        return decoded.reason, decoded.detail
    f = decoded.features
    if modality == TEXT:
        return _check_text(decoded.text or "", f, cfg.text)
    if modality == IMAGE:
        return _check_image(f, cfg.image)
    if modality == VIDEO:
        return _check_video(f, cfg.video)
    if modality == AUDIO:
        return _check_audio(f, cfg.audio)
    if modality == OTHER:
        return _check_other(f, cfg.other)
    return "unknown_modality", f"no gates for modality {MODALITIES.get(modality, modality)!r}"


_OK = (None, "")

_URL_RE = re.compile(r"(?:https?|ftp)://\S+|www\.\S+", re.IGNORECASE)
_ELLIPSES = {"...", "\u2026"}
_NON_ALNUM_RE = re.compile(r"[^\w\s]|_")
_DIGIT_RE = re.compile(r"\d")


def text_scores(text: str) -> dict:
    """The numbers the text gates compare, exposed so reports and tuning use the same ones."""
    words = split_words(text)
    n_chars = len(text)
    spaced = [w for w in text.split() if w]
    symbol_words = sum(1 for w in words if w in _ELLIPSES or w.count("#") / len(w) > 0.5)
    non_alnum = len(_NON_ALNUM_RE.findall(text))
    digits = len(_DIGIT_RE.findall(text))
    url_chars = sum(len(m) for m in _URL_RE.findall(text))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return {
        "words": len(words),
        "mean_word_length": sum(map(len, spaced)) / len(spaced) if spaced and not _mostly_cjk(words, spaced) else None,
        "symbol_to_word_ratio": symbol_words / len(words) if words else 0.0,
        "non_alnum_ratio": non_alnum / n_chars if n_chars else 0.0,
        "digit_ratio": digits / n_chars if n_chars else 0.0,
        "url_ratio": url_chars / n_chars if n_chars else 0.0,
        "repeated_line_ratio": 1 - len(set(lines)) / len(lines) if lines else 0.0,
    }


def _mostly_cjk(words: list[str], spaced: list[str]) -> bool:
    # where words come from single CJK characters, space-separated "words" are whole clauses
    # and their length says nothing about quality
    return len(words) > 2 * len(spaced)


def _check_text(text: str, f: dict, g: TextGates) -> tuple[str | None, str]:
    s = text_scores(text)
    n = s["words"]
    if _on(g.min_words) and n < g.min_words:
        return "text_too_short", f"{n} words < min_words {g.min_words}"
    if _on(g.max_words) and n > g.max_words:
        return "text_too_long", f"{n} words > max_words {g.max_words}"
    mwl = s["mean_word_length"]
    if mwl is not None:
        if _on(g.min_mean_word_length) and mwl < g.min_mean_word_length:
            return "text_word_length", f"mean word length {mwl:.2f} < min_mean_word_length {g.min_mean_word_length}"
        if _on(g.max_mean_word_length) and mwl > g.max_mean_word_length:
            return "text_word_length", f"mean word length {mwl:.2f} > max_mean_word_length {g.max_mean_word_length}"
    for key, reason, setting in (
        ("symbol_to_word_ratio", "text_symbols", "max_symbol_to_word_ratio"),
        ("non_alnum_ratio", "text_non_alnum", "max_non_alnum_ratio"),
        ("digit_ratio", "text_digits", "max_digit_ratio"),
        ("url_ratio", "text_urls", "max_url_ratio"),
        ("repeated_line_ratio", "text_repeated_lines", "max_repeated_line_ratio"),
    ):
        limit = getattr(g, setting)
        if _on(limit) and s[key] > limit:
            return reason, f"{key.replace('_', ' ')} {s[key]:.3f} > {setting} {limit}"
    if _on(g.languages):
        lang = str(f.get("language") or "und").lower()
        if lang not in g.languages:
            return "text_language", f"language {lang!r} not in languages {g.languages}"
    return _OK


def _check_image(f: dict, g: ImageGates) -> tuple[str | None, str]:
    w, h = int(f.get("width", 0)), int(f.get("height", 0))
    short, long_ = min(w, h), max(w, h)
    if _on(g.min_side) and short < g.min_side:
        return "image_too_small", f"{w}x{h}: shorter side {short} < min_side {g.min_side}"
    if _on(g.max_aspect_ratio) and short > 0 and long_ / short > g.max_aspect_ratio:
        return "image_aspect_ratio", f"{w}x{h}: aspect ratio {long_ / short:.2f} > max_aspect_ratio {g.max_aspect_ratio}"
    return _OK


def _check_video(f: dict, g: VideoGates) -> tuple[str | None, str]:
    d = float(f.get("duration_s", 0.0))
    w, h = int(f.get("width", 0)), int(f.get("height", 0))
    if _on(g.min_duration_s) and d < g.min_duration_s:
        return "video_too_short", f"{d:.3f}s < min_duration_s {g.min_duration_s}"
    if _on(g.max_duration_s) and d > g.max_duration_s:
        return "video_too_long", f"{d:.3f}s > max_duration_s {g.max_duration_s}"
    if _on(g.min_width) and w < g.min_width:
        return "video_too_small", f"{w}x{h}: width < min_width {g.min_width}"
    if _on(g.min_height) and h < g.min_height:
        return "video_too_small", f"{w}x{h}: height < min_height {g.min_height}"
    return _OK


def _check_audio(f: dict, g: AudioGates) -> tuple[str | None, str]:
    d = float(f.get("duration_s", 0.0))
    sr = int(f.get("sample_rate", 0))
    silence = float(f.get("silence_ratio", 0.0))
    if _on(g.min_duration_s) and d < g.min_duration_s:
        return "audio_too_short", f"{d:.3f}s < min_duration_s {g.min_duration_s}"
    if _on(g.max_duration_s) and d > g.max_duration_s:
        return "audio_too_long", f"{d:.3f}s > max_duration_s {g.max_duration_s}"
    if _on(g.min_sample_rate) and sr < g.min_sample_rate:
        return "audio_sample_rate", f"{sr} Hz < min_sample_rate {g.min_sample_rate}"
    if _on(g.max_silence_ratio) and silence > g.max_silence_ratio:
        return "audio_silent", f"silence ratio {silence:.3f} > max_silence_ratio {g.max_silence_ratio}"
    return _OK


def _check_other(f: dict, g: OtherGates) -> tuple[str | None, str]:
    size, ext = int(f.get("bytes", 0)), str(f.get("extension", ""))
    if _on(g.max_size) and size > g.max_size:
        return "other_too_large", f"{size:,} bytes > max_size {g.max_size:,}"
    if g.extensions is not None and ext not in g.extensions:
        shown = ", ".join(e or '""' for e in g.extensions)
        return "other_extension", f"extension {ext or '(none)'} is not one of other.extensions ({shown})"
    return _OK
