"""Stage 1 (decode + validate) against real files built here: good ones of every modality and
the bad ones a real corpus holds (empty, truncated, corrupt, mislabelled, bombs)."""

from __future__ import annotations

import io
import struct
import time
import tracemalloc
import zlib

import av
import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from mmvc.core.modality import AUDIO, IMAGE, TEXT, VIDEO
from mmvc.process import decode as dec
from mmvc.process.decode import REASONS, Decoded, decode_item

# ------------------------------------------------------------------ builders


def png(w=640, h=480, mode="RGB", color=(10, 200, 30)) -> bytes:
    b = io.BytesIO()
    Image.new(mode, (w, h), color).save(b, "PNG")
    return b.getvalue()


def noise_jpeg(w=400, h=300, exif_orientation: int | None = None) -> bytes:
    arr = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    img = Image.fromarray(arr)
    b = io.BytesIO()
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        img.save(b, "JPEG", exif=exif.tobytes())
    else:
        img.save(b, "JPEG")
    return b.getvalue()


def png_bomb(w=30_000, h=30_000) -> bytes:
    """A valid PNG header declaring w x h 1-bit pixels with a token IDAT: tiny on disk, and
    2.7 GB if anything decoded it."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def video(n=16, w=64, h=64, rate=8, gop=4, codec="libx264", fmt="mp4", with_audio=False, with_video=True) -> bytes:
    """Frame i is a flat grey of level 6*i, so keyframe order can be read back from pixel values."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as c:
        if with_video:
            vs = c.add_stream(codec, rate=rate)
            vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
            if codec == "libx264":
                vs.options = {"g": str(gop), "keyint_min": str(gop), "preset": "ultrafast", "sc_threshold": "0"}
            else:
                vs.gop_size = gop
        if with_audio:
            a = c.add_stream("aac", rate=16000)
            a.layout = "mono"
        if with_video:
            for i in range(n):
                frame = av.VideoFrame.from_ndarray(np.full((h, w, 3), (6 * i) % 256, np.uint8), format="rgb24")
                for p in vs.encode(frame):
                    c.mux(p)
            for p in vs.encode():
                c.mux(p)
        if with_audio:
            t = np.arange(16000) / 16000
            x = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            for off in range(0, 16000, 1024):
                fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[:, off : off + 1024]), format="flt", layout="mono")
                fr.sample_rate, fr.pts = 16000, off
                for p in a.encode(fr):
                    c.mux(p)
            for p in a.encode():
                c.mux(p)
    return buf.getvalue()


def tone(seconds=1.0, sr=16000, channels=1, silent_tail=0.0) -> np.ndarray:
    n = int(seconds * sr)
    x = 0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / sr)
    if silent_tail:
        x[int(n * (1 - silent_tail)) :] = 0.0
    x = x.astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def audio_file(x: np.ndarray, sr=16000, fmt="WAV") -> bytes:
    b = io.BytesIO()
    sf.write(b, x, sr, format=fmt)
    return b.getvalue()


@pytest.fixture(scope="module")
def samples():
    return {
        "png": png(),
        "jpeg": noise_jpeg(),
        "mp4": video(),
        "wav": audio_file(tone()),
        "text": b"A short sentence about cats.\nAnd a second line.\n",
    }


def _rejected(d: Decoded, reason: str):
    assert d.status == "rejected", d
    assert d.reason == reason, (d.reason, d.detail)
    assert d.thumb is None and d.keyframes is None and d.audio is None


# ------------------------------------------------------------------ generic


@pytest.mark.parametrize("modality", [TEXT, IMAGE, VIDEO, AUDIO])
def test_empty_bytes_rejected_for_every_modality(modality):
    _rejected(decode_item(b"", modality), "empty")


def test_unknown_modality():
    _rejected(decode_item(b"abc", 0), "unknown_modality")
    _rejected(decode_item(b"abc", 99), "unknown_modality")


@pytest.mark.parametrize("modality", [TEXT, IMAGE, VIDEO, AUDIO])
def test_random_junk_is_rejected_not_raised(modality):
    junk = np.random.default_rng(modality).bytes(5000)
    d = decode_item(junk, modality, "junk.bin")
    assert d.status == "rejected"
    assert d.reason in ("corrupt", "not_utf8")
    assert d.detail.startswith("junk.bin: ")


def test_prefixes_of_valid_files_never_raise(samples):
    # every cut of every file, read as every modality: a verdict with a documented reason
    for data in samples.values():
        for cut in (1, 7, 64, len(data) // 3, len(data) - 1):
            for modality in (TEXT, IMAGE, VIDEO, AUDIO):
                d = decode_item(data[:cut], modality)
                assert d.status in ("ok", "rejected")
                assert d.status == "ok" or d.reason in REASONS


def test_unexpected_exception_becomes_decode_error(monkeypatch):
    def boom(data, **_):
        raise RuntimeError("kaboom")

    monkeypatch.setitem(dec._DECODERS, TEXT, boom)
    d = decode_item(b"hello", TEXT)
    _rejected(d, "decode_error")
    assert "RuntimeError: kaboom" in d.detail


def test_reason_codes_are_append_only():
    # codes are stored with rejected items: existing ones keep their position and meaning
    assert list(REASONS)[:13] == [
        "unknown_modality", "empty", "not_utf8", "not_text", "corrupt", "truncated", "unsupported_format",
        "decompression_bomb", "no_video_stream", "no_audio_stream", "no_keyframes", "zero_frames", "decode_error",
    ]
    assert all(r == r.lower() and " " not in r for r in REASONS)


# ------------------------------------------------------------------ text


def test_text_features(samples):
    d = decode_item(samples["text"], TEXT)
    assert d.ok and d.text == samples["text"].decode()
    assert d.features == {"encoding": "utf-8", "chars": 48, "words": 9, "lines": 2, "language": "en"}


def test_text_byte_order_marks():
    d = decode_item(b"\xef\xbb\xbfhello there world", TEXT)
    assert d.ok and d.text == "hello there world" and d.features["encoding"] == "utf-8-sig"
    d = decode_item("h\u00e9llo w\u00f6rld".encode("utf-16"), TEXT)
    assert d.ok and d.text == "h\u00e9llo w\u00f6rld" and d.features["encoding"].startswith("utf-16")


def test_text_not_utf8():
    d = decode_item("caf\u00e9 cr\u00e8me br\u00fbl\u00e9e".encode("latin-1"), TEXT)
    _rejected(d, "not_utf8")
    assert "byte 3" in d.detail


def test_text_with_nul_is_not_text():
    _rejected(decode_item("plain".encode("utf-16-le"), TEXT), "not_text")


def test_png_labelled_as_text_names_the_real_type():
    d = decode_item(png(8, 8), TEXT)
    _rejected(d, "not_utf8")
    assert "looks like image" in d.detail and d.features["sniffed"] == "image"


def test_cjk_characters_count_as_words():
    d = decode_item("一只猫坐在垫子上".encode(), TEXT)
    assert d.features["words"] == 8


@pytest.mark.parametrize("text,language", [
    ("Der schnelle braune Fuchs springt über den faulen Hund, und die Katze schläft auf dem Sofa.", "de"),
    ("Le renard brun rapide saute par-dessus le chien paresseux pendant que le chat dort.", "fr"),
    ("The quick brown fox jumps over the lazy dog while the cat sleeps on the sofa.", "en"),
    ("東京は日本の首都です。", "ja"),
    ("a dog", "und"),  # two words: too little to tell, so no guess
    ("img_0001 jpg", "und"),
])
def test_language_detected_offline(text, language):
    assert decode_item(text.encode(), TEXT).features["language"] == language


def test_the_language_detector_is_part_of_the_decode_cache_key():
    """Installing or upgrading the detector changes what decode computes, so the cached
    features of both stages that hold the language are recomputed."""
    from mmvc.process.config import ProcessConfig

    detector = dec.language_detector()
    assert detector.startswith("py3langid-") and detector.endswith(f"/{dec.MIN_LANGUAGE_CONFIDENCE}")
    cfg = ProcessConfig.from_table({})
    assert cfg._stage_doc("decode")["language"] == detector and cfg._stage_doc("gates")["language"] == detector


def test_language_from_an_optional_detector(monkeypatch):
    class Fake:
        @staticmethod
        def classify(text):
            return ("de", -10.0)

    monkeypatch.setattr(dec, "_LANGID", Fake)
    assert decode_item(b"Guten Morgen allerseits", TEXT).features["language"] == "de"
    monkeypatch.setattr(dec, "_LANGID", False)
    assert decode_item(b"Guten Morgen allerseits", TEXT).features["language"] == "und"


# ------------------------------------------------------------------ images


def test_png_features_and_thumbnail(samples):
    d = decode_item(samples["png"], IMAGE)
    assert d.ok
    assert d.features == {"width": 640, "height": 480, "mode": "RGB", "format": "PNG"}
    assert d.thumb.shape == (192, 256, 3) and d.thumb.dtype == np.uint8
    assert tuple(d.thumb[50, 50]) == (10, 200, 30)
    assert d.text is None and d.keyframes is None and d.audio is None


def test_small_image_is_not_upscaled():
    d = decode_item(png(40, 20), IMAGE)
    assert d.thumb.shape == (20, 40, 3)


@pytest.mark.parametrize(
    "mode,color",
    [("RGBA", (255, 0, 0, 0)), ("LA", (0, 0)), ("P", 3), ("L", 128), ("1", 1), ("I;16", 4000), ("CMYK", (0, 0, 0, 0))],
)
def test_every_mode_gives_an_rgb_thumbnail(mode, color):
    d = decode_item(png(30, 30, mode, color) if mode != "CMYK" else _tiff_cmyk(), IMAGE)
    assert d.ok, d.detail
    assert d.thumb.ndim == 3 and d.thumb.shape[2] == 3 and d.thumb.dtype == np.uint8
    if mode in ("RGBA", "LA"):
        assert tuple(d.thumb[5, 5]) == (255, 255, 255)  # transparent shows as white


def _tiff_cmyk() -> bytes:
    b = io.BytesIO()
    Image.new("CMYK", (30, 30), (0, 0, 0, 0)).save(b, "TIFF")
    return b.getvalue()


def test_jpeg_with_exif_orientation_is_turned_upright():
    d = decode_item(noise_jpeg(40, 20, exif_orientation=6), IMAGE)
    assert d.ok
    assert (d.features["width"], d.features["height"]) == (40, 20)  # as stored
    assert d.thumb.shape == (40, 20, 3)  # as shown


def test_truncated_png_and_jpeg(samples):
    for key in ("png", "jpeg"):
        data = samples[key]
        d = decode_item(data[: len(data) * 2 // 3], IMAGE)
        _rejected(d, "truncated")


def test_corrupt_png_body():
    data = bytearray(png(64, 64))
    data[60:80] = b"\xff" * 20
    d = decode_item(bytes(data), IMAGE)
    assert d.status == "rejected" and d.reason in ("corrupt", "truncated")


def test_decompression_bomb_rejected_from_header_without_allocating():
    bomb = png_bomb()
    assert len(bomb) < 200
    tracemalloc.start()
    t0 = time.perf_counter()
    d = decode_item(bomb, IMAGE)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    _rejected(d, "decompression_bomb")
    assert elapsed < 1.0
    assert peak < 20 * 2**20


def test_max_pixels_is_per_call_and_never_leaks(monkeypatch):
    before = Image.MAX_IMAGE_PIXELS
    _rejected(decode_item(png(100, 100), IMAGE, max_pixels=5_000), "decompression_bomb")
    assert decode_item(png(100, 100), IMAGE, max_pixels=10_000).ok
    assert Image.MAX_IMAGE_PIXELS == before
    # mmvc's limit is the authority even above Pillow's own, which is restored after
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    assert decode_item(png(100, 100), IMAGE, max_pixels=50_000).ok
    _rejected(decode_item(png(100, 100), IMAGE, max_pixels=5_000), "decompression_bomb")
    assert Image.MAX_IMAGE_PIXELS == 1_000
    # with mmvc's limit off, Pillow's still stands
    _rejected(decode_item(png(100, 100), IMAGE, max_pixels=None), "decompression_bomb")


def test_unknown_image_format_with_image_signature_is_unsupported():
    heic_like = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200
    _rejected(decode_item(heic_like, IMAGE), "unsupported_format")


def test_damaged_png_after_its_signature_is_corrupt_not_unsupported():
    _rejected(decode_item(b"\x89PNG\r\n\x1a\nbroken", IMAGE), "corrupt")
    _rejected(decode_item(b"\xff\xd8\xff" + b"\x00" * 40, IMAGE), "corrupt")


def test_wav_labelled_as_image(samples):
    d = decode_item(samples["wav"], IMAGE)
    _rejected(d, "corrupt")
    assert d.features["sniffed"] == "audio"


def test_image_caption_from_meta(samples):
    assert decode_item(samples["png"], IMAGE, meta={"caption": "a green square"}).text == "a green square"
    assert decode_item(samples["png"], IMAGE, meta={"license": "cc-by"}).text is None


# ------------------------------------------------------------------ video


def test_mp4_features_and_keyframes(samples):
    d = decode_item(samples["mp4"], VIDEO)
    assert d.ok, d.detail
    f = d.features
    assert f["container"].startswith("mov,mp4")
    assert f["duration_s"] == pytest.approx(2.0)
    assert f["fps"] == pytest.approx(8.0)
    assert (f["width"], f["height"], f["video_codec"], f["has_audio"], f["keyframes"]) == (64, 64, "h264", False, 4)
    assert len(d.keyframes) == 4
    assert all(k.shape == (64, 64, 3) and k.dtype == np.uint8 for k in d.keyframes)
    levels = [float(k.mean()) for k in d.keyframes]
    assert levels == sorted(levels)
    assert d.thumb is None and d.audio is None and d.text is None


def test_keyframes_are_at_most_eight_evenly_spread_and_downscaled():
    data = video(n=40, w=320, h=160, gop=2)  # 20 keyframes at frames 0, 2, ... 38
    d = decode_item(data, VIDEO)
    assert d.ok and d.features["keyframes"] == 20
    assert len(d.keyframes) == 8
    assert d.keyframes[0].shape == (128, 256, 3)
    frames = [round(float(k.mean()) / 6) for k in d.keyframes]
    assert frames == [0, 6, 10, 16, 22, 28, 32, 38]


def test_mpeg4_in_matroska_with_audio():
    d = decode_item(video(codec="mpeg4", fmt="matroska", with_audio=True), VIDEO)
    assert d.ok, d.detail
    assert d.features["video_codec"] == "mpeg4" and d.features["has_audio"] is True
    assert d.features["container"].startswith("matroska")


def test_audio_only_mp4_has_no_video_stream():
    d = decode_item(video(with_video=False, with_audio=True), VIDEO)
    _rejected(d, "no_video_stream")
    assert "audio" in d.detail


def test_wav_labelled_as_video(samples):
    d = decode_item(samples["wav"], VIDEO)
    _rejected(d, "no_video_stream")
    assert d.features["sniffed"] == "audio"


def test_image_labelled_as_video(samples):
    d = decode_item(samples["png"], VIDEO)
    _rejected(d, "corrupt")
    assert d.features["sniffed"] == "image"


def test_truncated_mp4_without_its_index(samples):
    data = samples["mp4"]
    _rejected(decode_item(data[: len(data) // 2], VIDEO), "corrupt")


def test_truncated_matroska_is_truncated():
    data = video(n=64, fmt="matroska")
    _rejected(decode_item(data[:1500], VIDEO), "truncated")


def test_video_frame_above_max_pixels(samples):
    _rejected(decode_item(samples["mp4"], VIDEO, max_pixels=1000), "decompression_bomb")


# ------------------------------------------------------------------ audio


def test_wav_features_and_payload(samples):
    d = decode_item(samples["wav"], AUDIO, meta={"transcript": "beep"})
    assert d.ok, d.detail
    assert d.features == {"format": "WAV", "sample_rate": 16000, "channels": 1, "frames": 16000,
                          "duration_s": 1.0, "silence_ratio": 0.0}
    assert d.audio.dtype == np.float32 and d.audio.shape == (16000,)
    assert d.text == "beep"


def test_stereo_flac_resampled_and_silence_measured():
    data = audio_file(tone(2.0, 44100, channels=2, silent_tail=0.5), 44100, "FLAC")
    d = decode_item(data, AUDIO)
    assert d.ok, d.detail
    f = d.features
    assert (f["format"], f["sample_rate"], f["channels"], f["frames"]) == ("FLAC", 44100, 2, 88200)
    assert f["silence_ratio"] == pytest.approx(0.5, abs=0.02)
    assert d.audio.dtype == np.float32 and len(d.audio) == pytest.approx(32000, abs=2)
    assert 0.15 < float(np.abs(d.audio[:8000]).mean()) < 0.25  # the tone survives resampling


def test_audio_payload_capped_at_sixty_seconds():
    d = decode_item(audio_file(np.zeros(8000 * 70, np.float32), 8000), AUDIO)
    assert d.ok and d.features["duration_s"] == 70.0 and d.features["silence_ratio"] == 1.0
    assert len(d.audio) == 16000 * 60


def test_wav_with_zero_frames():
    _rejected(decode_item(audio_file(np.zeros(0, np.float32)), AUDIO), "zero_frames")


def test_truncated_wav_and_flac():
    wav = audio_file(tone())
    _rejected(decode_item(wav[: len(wav) // 2], AUDIO), "truncated")
    flac = audio_file(tone(), fmt="FLAC")
    d = decode_item(flac[: len(flac) // 2], AUDIO)
    assert d.status == "rejected" and d.reason in ("truncated", "corrupt")


def test_m4a_through_pyav():
    d = decode_item(video(with_video=False, with_audio=True), AUDIO)
    assert d.ok, d.detail
    f = d.features
    assert f["format"] == "mov/aac" and f["sample_rate"] == 16000 and f["channels"] == 1
    assert f["duration_s"] == pytest.approx(1.0, abs=0.1)
    assert f["silence_ratio"] < 0.1
    assert d.audio.dtype == np.float32 and abs(len(d.audio) - 16000) < 2048


def test_video_without_audio_labelled_as_audio(samples):
    _rejected(decode_item(samples["mp4"], AUDIO), "no_audio_stream")


def test_text_labelled_as_audio(samples):
    _rejected(decode_item(samples["text"], AUDIO), "corrupt")
