"""Stage 1 of ``mmvc process``: decode every item fully, validate it, extract metadata.

Decoding is the only way to know that bytes are usable: a header can be intact while the data
after it is cut short, so images are loaded completely, videos are demuxed end to end and their
keyframes decoded, and audio is read to its last frame. The same pass produces the small
payloads that later stages need (thumbnail, keyframes, 16 kHz audio), so no later stage decodes
a blob again.

A decoder never raises: whatever goes wrong becomes ``status="rejected"`` with a reason from
``REASONS``. Rejections are soft metadata (DESIGN.md, "The process pipeline"), cached by
(blob hash, stage config hash), so the reason codes are written to disk and the list is
append-only: a code keeps its meaning forever, new failure kinds get new codes.
"""

from __future__ import annotations

import io
import re
import struct
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmvc.core.modality import AUDIO, IMAGE, TEXT, UNKNOWN, VIDEO, modality_name, sniff

# Bump when a change to this module can change a Decoded for the same bytes, so cached results
# keyed on the stage config are recomputed.
DECODE_VERSION = 3  # 2: a damaged PNG/JPEG/GIF/BMP/WebP/TIFF is corrupt, not unsupported_format; 3: JPEG quality

# Pillow's own hard limit (2 x Image.MAX_IMAGE_PIXELS with Pillow's default): above it Pillow
# refuses to open an image, so mmvc's default matches it.
DEFAULT_MAX_PIXELS = 178_956_970
THUMB_SIDE = 256
MAX_KEYFRAMES = 8
AUDIO_RATE = 16_000
AUDIO_MAX_S = 60.0
SILENCE_DBFS = -50.0
SILENCE_FRAME_S = 0.020

# Append-only (see module docstring); docs/process.md explains each.
REASONS = {
    "unknown_modality": "the item's modality code is not one mmvc can decode",
    "empty": "zero bytes",
    "not_utf8": "a text item whose bytes are not valid UTF-8 (nor UTF-16/32 with a byte-order mark)",
    "not_text": "a text item that decodes but contains NUL characters (binary data, or UTF-16 without a BOM)",
    "corrupt": "the bytes do not decode as the item's modality",
    "truncated": "the data ends before the length its own header declares",
    "unsupported_format": "a recognised format that this installation cannot decode",
    "decompression_bomb": "declared pixel count above max_pixels; refused before allocating",
    "no_video_stream": "a video item whose container holds no video stream",
    "no_audio_stream": "an audio item whose container holds no audio stream",
    "no_keyframes": "a video stream with no decodable keyframe",
    "zero_frames": "a container with a video or audio stream but no frames in it",
    "decode_error": "an unexpected exception while decoding (its type and message are in detail)",
}


@dataclass
class Decoded:
    """One item after stage 1: the verdict, JSON-able features, and payloads for later stages.

    Payloads stay None on rejection so a rejected item costs nothing further downstream."""

    status: str  # "ok" | "rejected"
    reason: str | None = None
    detail: str = ""
    features: dict = field(default_factory=dict)
    text: str | None = None
    thumb: np.ndarray | None = None
    keyframes: list[np.ndarray] | None = None
    audio: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class _Reject(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


def _rejected(reason: str, detail: str = "", features: dict | None = None) -> Decoded:
    assert reason in REASONS, reason
    return Decoded(status="rejected", reason=reason, detail=detail, features=features or {})


def decode_item(
    data: bytes,
    modality: int,
    path: str = "",
    meta: dict | None = None,
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> Decoded:
    """Decode ``data`` as the item's recorded ``modality``, never raising.

    The modality recorded at ``add`` time is trusted rather than re-sniffed: a PNG stored as a
    text item is a labelling problem the user must see, so it is rejected (with the sniffed
    modality in ``detail`` and ``features["sniffed"]``) instead of quietly processed as an image.
    ``max_pixels`` (``[process.gates.image] max_pixels``) bounds image and video frame sizes;
    None or 0 leaves only Pillow's own limit in force. ``path`` only makes messages clearer."""
    decoder = _DECODERS.get(modality)
    if decoder is None:
        return _rejected("unknown_modality", f"modality code {modality!r}")
    if not data:
        return _rejected("empty", f"{modality_name(modality)} item has zero bytes")
    try:
        out = decoder(data, max_pixels=max_pixels or None)
    except _Reject as r:
        out = _rejected(r.reason, r.detail)
    except Exception as e:  # a decoder must never take the pipeline down
        out = _rejected("decode_error", f"{type(e).__name__}: {e}")
    if not out.ok:
        _note_mislabel(out, data, modality)
        if path:
            out.detail = f"{path}: {out.detail}" if out.detail else path
    elif modality in (IMAGE, AUDIO) and meta:
        out.text = _meta_text(meta, modality)
    return out


def describe_other(size: int, path: str) -> Decoded:
    """Stage 1 of an ``other`` item: nothing to decode, so nothing is read. Its features are
    its size and extension, all that ``[process.gates.other]`` looks at; an empty file (a
    marker, an empty annotation) is as valid as any other."""
    base = path.rsplit("/", 1)[-1]
    ext = base.rsplit(".", 1)[1].lower() if "." in base.lstrip(".") else ""
    return Decoded(status="ok", features={"bytes": int(size), "extension": ext})


def _note_mislabel(out: Decoded, data: bytes, modality: int) -> None:
    actual = sniff(bytes(data[:4096]))
    if actual not in (UNKNOWN, modality):
        name = modality_name(actual)
        out.features["sniffed"] = name
        out.detail = f"{out.detail}; content looks like {name}" if out.detail else f"content looks like {name}"


def _meta_text(meta: dict, modality: int) -> str | None:
    keys = ("transcript", "caption", "text") if modality == AUDIO else ("caption", "text", "transcript")
    for k in keys:
        v = meta.get(k)
        if isinstance(v, str) and v.strip():
            return v
    return None


# ---------------------------------------------------------------- text

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def _decode_text(data: bytes, **_) -> Decoded:
    data = bytes(data)
    encoding, body = "utf-8", data
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding, body = name, data[len(bom):]
            break
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as e:
        raise _Reject("not_utf8", f"invalid {codec} at byte {e.start + len(data) - len(body)}: {e.reason}") from None
    if "\0" in text:
        raise _Reject("not_text", f"NUL character at offset {text.index(chr(0))}")
    words = split_words(text)
    lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
    features = {
        "encoding": encoding,
        "chars": len(text),
        "words": len(words),
        "lines": lines,
        "language": detect_language(text),
    }
    return Decoded(status="ok", features=features, text=text)


# Han ideographs and kana carry no spaces between words; counting each as a word keeps word
# counts meaningful for Chinese and Japanese instead of one "word" per sentence.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD_RE = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+")


def split_words(text: str) -> list[str]:
    """Whitespace-separated words, with each Han or kana character a word of its own."""
    return _WORD_RE.findall(text)


_LANGID: Any = None  # the loaded detector; False when none is installed
LANGUAGE_DETECTOR = "py3langid"  # in the process extra: a naive Bayes model shipped in the package, so offline
MIN_LANGUAGE_CONFIDENCE = 0.5  # below it (a caption of two words, mixed text) the language is "und"


def detect_language(text: str) -> str:
    """The ISO 639 code of the text's language, or 'und' where the detector cannot tell:
    text too short or too mixed for a calibrated confidence of ``MIN_LANGUAGE_CONFIDENCE``,
    or no detector installed (a light install). A guess would be worse than 'und': the
    language gate and the datasheet trust this field. The model loads once per process."""
    global _LANGID
    if _LANGID is None:
        try:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _LANGID = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True, min_confidence=MIN_LANGUAGE_CONFIDENCE)
        except ImportError:
            _LANGID = False
    if not _LANGID or not text.strip():
        return "und"
    try:
        return str(_LANGID.classify(text[:4096])[0])
    except Exception:
        return "und"


def language_detector() -> str:
    """Which detector (and version) names languages here, "none" without one: part of the
    decode stage's cache key, so installing or upgrading it recomputes the language field."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{LANGUAGE_DETECTOR}-{version(LANGUAGE_DETECTOR)}/{MIN_LANGUAGE_CONFIDENCE}"
    except PackageNotFoundError:
        return "none"


def language_detector_available() -> bool:
    detect_language("probe")
    return bool(_LANGID)


# ---------------------------------------------------------------- images

_PIL_LIMIT_LOCK = threading.Lock()


def _open_image(data: bytes, max_pixels: int | None):
    """Image.open with mmvc's pixel limit instead of the process-wide Pillow one.

    Pillow's limit is a module global; it is only lifted (under a lock, restored at once) when
    the configured limit is above it, because the header check right after open is
    mmvc's own and authoritative."""
    from PIL import Image

    pil_hard = (Image.MAX_IMAGE_PIXELS or 0) * 2
    lift = bool(Image.MAX_IMAGE_PIXELS) and max_pixels is not None and max_pixels > pil_hard
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        if not lift:
            return Image.open(io.BytesIO(data))
        with _PIL_LIMIT_LOCK:
            saved = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
            try:
                return Image.open(io.BytesIO(data))
            finally:
                Image.MAX_IMAGE_PIXELS = saved


# Signatures of the formats Pillow always decodes: data starting with one of these that Pillow
# cannot open is damaged, not of an unsupported kind.
_PILLOW_NATIVE = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")


def _decode_image(data: bytes, max_pixels: int | None = DEFAULT_MAX_PIXELS, **_) -> Decoded:
    from PIL import Image, UnidentifiedImageError

    try:
        img = _open_image(data, max_pixels)
    except Image.DecompressionBombError as e:
        raise _Reject("decompression_bomb", str(e)) from None
    except UnidentifiedImageError:
        head = bytes(data[:16])
        if head.startswith(_PILLOW_NATIVE) or head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            raise _Reject("corrupt", "the header says PNG, JPEG, GIF, BMP, WebP or TIFF, but the data does not decode") from None
        if sniff(bytes(data[:4096])) == IMAGE:
            raise _Reject("unsupported_format", "image signature recognised but no installed decoder reads it") from None
        raise _Reject("corrupt", "not an image format Pillow recognises") from None
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as e:
        raise _Reject("corrupt", f"bad image header: {e}") from None
    with img:
        width, height = img.size
        if max_pixels and width * height > max_pixels:
            raise _Reject("decompression_bomb", f"{width}x{height} = {width * height} pixels > max_pixels {max_pixels}")
        if width <= 0 or height <= 0:
            raise _Reject("corrupt", f"image size {width}x{height}")
        try:
            img.load()
        except OSError as e:
            msg = str(e)
            reason = "truncated" if "truncated" in msg or "end of file" in msg.lower() else "corrupt"
            raise _Reject(reason, msg) from None
        except (SyntaxError, ValueError, struct.error, EOFError, IndexError) as e:
            raise _Reject("corrupt", f"{type(e).__name__}: {e}") from None
        features = {"width": width, "height": height, "mode": img.mode, "format": img.format or ""}
        quality = jpeg_quality(getattr(img, "quantization", None)) if img.format == "JPEG" else None
        if quality is not None:
            features["quality"] = quality
        thumb = _thumbnail(img)
    return Decoded(status="ok", features=features, thumb=thumb)


# The IJG (libjpeg) luminance table, which quality settings scale (it is quality 50).
_IJG_LUMA_SUM = sum((16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
                     14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
                     49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99))


def jpeg_quality(tables) -> int | None:
    """The libjpeg quality (1–100) a JPEG's luminance quantisation table was scaled from,
    inverted from libjpeg's own scaling (≤ 50: 5000/q %, above: 200 − 2q %). An encoder with
    tables of its own still gets the quality whose tables quantise as coarsely."""
    if not tables or 0 not in tables:
        return None
    scale = 100.0 * sum(tables[0]) / _IJG_LUMA_SUM
    q = 5000.0 / scale if scale > 100 else (200.0 - scale) / 2.0
    return int(min(100, max(1, round(q))))


def _thumbnail(img) -> np.ndarray | None:
    """RGB, longer side <= THUMB_SIDE, EXIF orientation applied, transparency on white: the
    picture as a viewer shows it, which is what perceptual hashing and CLIP should see."""
    from PIL import Image

    try:
        orientation = img.getexif().get(0x0112, 1)
    except Exception:
        orientation = 1
    try:
        if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
            arr = np.asarray(img, dtype=np.float64)
            lo, hi = float(arr.min()), float(arr.max())
            arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
            small = Image.fromarray(arr.astype(np.uint8), "L")
        elif img.mode in ("RGB", "L", "RGBA", "LA"):
            small = img.copy()
        else:
            alpha = "A" in img.getbands() or "transparency" in img.info
            small = img.convert("RGBA" if alpha else "RGB")
        small.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BICUBIC, reducing_gap=2.0)
        if small.mode in ("RGBA", "LA"):
            rgba = small.convert("RGBA")
            bg = Image.new("RGB", rgba.size, (255, 255, 255))
            bg.paste(rgba, mask=rgba.getchannel("A"))
            small = bg
        small = _apply_orientation(small.convert("RGB"), orientation)
        return np.asarray(small, dtype=np.uint8).copy()
    except Exception:
        return None  # a picture that decoded is valid even where no preview can be made


def _apply_orientation(img, orientation: int):
    from PIL import Image

    T = Image.Transpose
    ops = {
        2: [T.FLIP_LEFT_RIGHT],
        3: [T.ROTATE_180],
        4: [T.FLIP_TOP_BOTTOM],
        5: [T.TRANSPOSE],
        6: [T.ROTATE_270],
        7: [T.TRANSVERSE],
        8: [T.ROTATE_90],
    }.get(orientation, [])
    for op in ops:
        img = img.transpose(op)
    return img


def _fit(width: int, height: int, side: int = THUMB_SIDE) -> tuple[int, int]:
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


# ---------------------------------------------------------------- video


def _av_open(data: bytes):
    import av

    try:
        return av.open(io.BytesIO(data), mode="r")
    except av.error.FFmpegError as e:
        raise _Reject("corrupt", f"no container format recognised: {e}") from None


def _decode_video(data: bytes, max_pixels: int | None = DEFAULT_MAX_PIXELS, **_) -> Decoded:
    import av

    container = _av_open(data)
    with container:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["none"]
            raise _Reject("no_video_stream", f"streams: {', '.join(kinds)}")
        fmt_name = container.format.name
        if fmt_name.endswith("_pipe") or fmt_name in ("image2", "image2pipe"):
            # FFmpeg opens a still image as a one-frame video; that is a mislabelled item
            raise _Reject("corrupt", f"a still image ({fmt_name}), not a video")
        vs = container.streams.video[0]
        cc = vs.codec_context
        width, height = cc.width, cc.height
        if max_pixels and width * height > max_pixels:
            raise _Reject("decompression_bomb", f"frame {width}x{height} > max_pixels {max_pixels}")
        if width <= 0 or height <= 0:
            raise _Reject("corrupt", f"video frame size {width}x{height}")
        tb = float(vs.time_base) if vs.time_base else 0.0
        key_ordinals: list[int] = []
        n_packets, first, end = 0, None, None
        try:
            for p in container.demux(vs):
                if p.size == 0:
                    continue
                if p.is_keyframe:
                    key_ordinals.append(n_packets)
                n_packets += 1
                ts = p.pts if p.pts is not None else p.dts
                if ts is not None:
                    first = ts if first is None else min(first, ts)
                    stop = ts + (p.duration or 0)
                    end = stop if end is None else max(end, stop)
        except av.error.FFmpegError as e:
            raise _Reject("truncated" if n_packets else "corrupt", f"demux failed after {n_packets} packets: {e}") from None
        if n_packets == 0:
            raise _Reject("zero_frames", "the video stream has no packets")
        extent = (end - first) * tb if first is not None and end is not None and tb else 0.0
        declared = 0.0
        if vs.duration and tb:
            declared = vs.duration * tb
        elif container.duration:
            declared = container.duration / 1_000_000
        if declared and extent and extent < 0.5 * declared and declared - extent > 1.0:
            raise _Reject("truncated", f"packets cover {extent:.3f}s of a declared {declared:.3f}s")
        if not key_ordinals:
            raise _Reject("no_keyframes", f"{n_packets} packets, none flagged as a keyframe")
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        fps = float(rate) if rate else (n_packets / extent if extent else 0.0)
        features = {
            "container": container.format.name,
            "duration_s": round(declared or extent, 6),
            "fps": round(fps, 6),
            "width": width,
            "height": height,
            "video_codec": cc.name,
            "has_audio": bool(container.streams.audio),
            "keyframes": len(key_ordinals),
        }
    frames = _keyframes(data, _spread(key_ordinals, MAX_KEYFRAMES))
    if not frames:
        raise _Reject("no_keyframes", f"none of {len(key_ordinals)} keyframe packets decoded")
    return Decoded(status="ok", features=features, keyframes=frames)


def _spread(items: list[int], k: int) -> list[int]:
    if len(items) <= k:
        return list(items)
    return [items[round(i * (len(items) - 1) / (k - 1))] for i in range(k)]


def _keyframes(data: bytes, wanted: list[int]) -> list[np.ndarray]:
    """Decode only the chosen keyframe packets: a second demux pass is far cheaper than
    decoding every keyframe of a long video, and holding packets between passes would cost
    memory proportional to the video."""
    import av

    wanted_set, last = set(wanted), max(wanted)
    decoded = []
    with av.open(io.BytesIO(data), mode="r") as container:
        vs = container.streams.video[0]
        cc = vs.codec_context
        cc.skip_frame = "NONKEY"
        ordinal = 0
        try:
            for p in container.demux(vs):
                if p.size == 0:
                    continue
                if ordinal in wanted_set:
                    decoded.extend(cc.decode(p))
                ordinal += 1
                if ordinal > last:
                    break
            decoded.extend(cc.decode(None))
        except av.error.FFmpegError as e:
            if not decoded:
                raise _Reject("corrupt", f"keyframe decode failed: {e}") from None
    decoded.sort(key=lambda f: f.pts if f.pts is not None else 0)
    out = []
    for f in decoded[:MAX_KEYFRAMES]:
        w, h = _fit(f.width, f.height)
        out.append(f.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray().copy())
    return out


# ---------------------------------------------------------------- audio


class _AudioAccumulator:
    """Consumes native-rate blocks once: silence statistics over the whole signal, and the
    first AUDIO_MAX_S of mono kept for the 16 kHz payload, so a long recording is never held
    decoded in memory at once."""

    def __init__(self, sample_rate: int):
        self.sr = sample_rate
        self.frame = max(1, round(sample_rate * SILENCE_FRAME_S))
        self.keep = int(sample_rate * AUDIO_MAX_S)
        self.threshold_ms = (10 ** (SILENCE_DBFS / 20)) ** 2
        self.carry = np.zeros(0, np.float64)
        self.frames = 0
        self.windows = 0
        self.silent = 0
        self.mono: list[np.ndarray] = []
        self.kept = 0

    def add(self, block: np.ndarray) -> None:
        """``block``: (samples, channels) float32 in [-1, 1]."""
        if block.size == 0:
            return
        block = np.nan_to_num(block.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=-1.0)
        self.frames += block.shape[0]
        # mean square over all channels: out-of-phase stereo is not silence
        msq = np.concatenate([self.carry, np.mean(np.square(block, dtype=np.float64), axis=1)])
        full = len(msq) // self.frame * self.frame
        if full:
            windows = msq[:full].reshape(-1, self.frame).mean(axis=1)
            self.windows += len(windows)
            self.silent += int(np.count_nonzero(windows < self.threshold_ms))
        self.carry = msq[full:]
        if self.kept < self.keep:
            take = block[: self.keep - self.kept].mean(axis=1, dtype=np.float32)
            self.mono.append(take)
            self.kept += len(take)

    def finish(self) -> tuple[float, np.ndarray]:
        windows, silent = self.windows, self.silent
        if len(self.carry):
            windows += 1
            silent += int(self.carry.mean() < self.threshold_ms)
        ratio = silent / windows if windows else 1.0
        mono = np.concatenate(self.mono) if self.mono else np.zeros(0, np.float32)
        return ratio, _resample_16k(mono, self.sr)


def _resample_16k(mono: np.ndarray, sr: int) -> np.ndarray:
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    if sr == AUDIO_RATE or mono.size == 0:
        return mono[: int(AUDIO_RATE * AUDIO_MAX_S)]
    import av

    frame = av.AudioFrame.from_ndarray(mono[None, :], format="flt", layout="mono")
    frame.sample_rate = sr
    resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
    parts = [f.to_ndarray()[0] for f in resampler.resample(frame) + resampler.resample(None)]
    out = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return np.ascontiguousarray(out[: int(AUDIO_RATE * AUDIO_MAX_S)], dtype=np.float32)


def _wav_truncation(data: bytes) -> str | None:
    """libsndfile quietly shortens a WAV whose data chunk runs past the end of the file;
    reading the RIFF chunk table ourselves is the only way to see the cut."""
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if cid == b"data":
            have = len(data) - pos - 8
            if size not in (0, 0xFFFFFFFF) and data[:4] == b"RIFF" and size > have:
                return f"data chunk declares {size} bytes, {have} present"
            return None
        pos += 8 + size + (size & 1)
    return None


def _decode_audio(data: bytes, **_) -> Decoded:
    import soundfile as sf

    try:
        f = sf.SoundFile(io.BytesIO(data))
    except Exception:
        return _decode_audio_av(data)
    with f:
        declared, sr, channels = f.frames, f.samplerate, f.channels
        fmt = f.format
        if sr <= 0 or channels <= 0:
            raise _Reject("corrupt", f"sample rate {sr}, channels {channels}")
        cut = _wav_truncation(data) if fmt in ("WAV", "WAVEX", "RF64") else None
        if cut:
            raise _Reject("truncated", cut)
        acc = _AudioAccumulator(sr)
        try:
            for block in f.blocks(blocksize=max(acc.frame, 1) * 256, dtype="float32", always_2d=True):
                acc.add(block)
        except Exception as e:
            if declared and acc.frames < declared:
                raise _Reject("truncated", f"read failed after {acc.frames} of {declared} frames: {e}") from None
            raise _Reject("corrupt", f"read failed after {acc.frames} frames: {e}") from None
    return _audio_result(acc, sr, channels, fmt)


def _decode_audio_av(data: bytes) -> Decoded:
    """PyAV path for what libsndfile cannot read (AAC/M4A, Opus in MP4/WebM, audio tracks of
    video containers)."""
    import av

    container = _av_open(data)
    with container:
        if not container.streams.audio:
            kinds = sorted({s.type for s in container.streams}) or ["none"]
            raise _Reject("no_audio_stream", f"streams: {', '.join(kinds)}")
        stream = container.streams.audio[0]
        cc = stream.codec_context
        sr = cc.sample_rate
        channels = cc.layout.nb_channels if cc.layout else getattr(cc, "channels", 0)
        if not sr or sr <= 0:
            raise _Reject("corrupt", f"audio stream without a sample rate ({cc.name})")
        resampler = av.AudioResampler(format="fltp", rate=sr)
        acc = _AudioAccumulator(sr)
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    for out in resampler.resample(frame):
                        acc.add(out.to_ndarray().T)
            for out in resampler.resample(None):
                acc.add(out.to_ndarray().T)
        except av.error.FFmpegError as e:
            if acc.frames == 0:
                raise _Reject("corrupt", f"audio decode failed: {e}") from None
            raise _Reject("truncated", f"audio decode failed after {acc.frames} frames: {e}") from None
        fmt = f"{container.format.name.split(',')[0]}/{cc.name}"
    return _audio_result(acc, sr, channels, fmt)


def _audio_result(acc: _AudioAccumulator, sr: int, channels: int, fmt: str) -> Decoded:
    if acc.frames == 0:
        raise _Reject("zero_frames", f"{fmt} audio with no samples")
    silence, mono16 = acc.finish()
    features = {
        "format": fmt,
        "sample_rate": int(sr),
        "channels": int(channels),
        "frames": int(acc.frames),
        "duration_s": round(acc.frames / sr, 6),
        "silence_ratio": round(float(silence), 6),
    }
    return Decoded(status="ok", features=features, audio=mono16)


_DECODERS = {TEXT: _decode_text, IMAGE: _decode_image, VIDEO: _decode_video, AUDIO: _decode_audio}
