"""Stage 2 rule gates: each default, each switch-off, and the config parsing around them."""

from __future__ import annotations

import io
import tomllib

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from mmvc.core.modality import AUDIO, IMAGE, OTHER, TEXT, VIDEO
from mmvc.errors import FormatError
from mmvc.process import decode as dec
from mmvc.process.decode import Decoded, decode_item, describe_other
from mmvc.process.gates import GATE_REASONS, GateConfig, check, text_scores

GOOD_TEXT = (
    "The river winds through the valley before reaching the old stone bridge.\n"
    "Farmers bring their produce to the market every Saturday morning.\n"
)


def text_item(s: str) -> Decoded:
    d = decode_item(s.encode(), TEXT)
    assert d.ok
    return d


def item(**features) -> Decoded:
    return Decoded(status="ok", features=features)


def gates(toml: str) -> GateConfig:
    return GateConfig.from_toml(tomllib.loads(toml).get("process", {}).get("gates", {}))


# ------------------------------------------------------------------ text


def test_good_text_passes_every_default():
    assert check(text_item(GOOD_TEXT), TEXT, GateConfig()) == (None, "")


@pytest.mark.parametrize(
    "text,reason",
    [
        ("two words", "text_too_short"),
        ("a an of to is it by", "text_word_length"),
        ("pneumonoultramicroscopic supercalifragilistic antidisestablishmentarianism", "text_word_length"),
        ("### ### ### tags and more words here ... ...", "text_symbols"),
        ("wow!!! $$$ @@@ %%% &&& *** good deal <<<>>>", "text_non_alnum"),
        ("call 555 0199 or 555 0123 today 2024 1999", "text_digits"),
        ("see https://x.io/a and https://y.io/b for more info please", "text_urls"),
        ("buy cheap watches now\n" * 3 + "one unique line here\n", "text_repeated_lines"),
    ],
)
def test_each_text_gate_has_its_own_reason(text, reason):
    got, detail = check(text_item(text), TEXT, GateConfig())
    assert got == reason, (got, detail, text_scores(text))
    assert detail


def test_text_too_long():
    cfg = GateConfig()
    cfg.text.max_words = 10
    assert check(text_item(GOOD_TEXT), TEXT, cfg)[0] == "text_too_long"


def test_cjk_text_is_not_judged_by_space_separated_word_length():
    d = text_item("一只小猫坐在窗台上晒太阳，看着外面的小鸟。")
    assert check(d, TEXT, GateConfig()) == (None, "")


@pytest.mark.parametrize(
    "key,text",
    [
        ("min_words", "two words"),
        ("min_mean_word_length", "a an of to is it by"),
        ("max_symbol_to_word_ratio", "### ### ### tags and more words here ... ..."),
        ("max_non_alnum_ratio", "wow!!! $$$ @@@ %%% &&& *** good deal <<<>>>"),
        ("max_digit_ratio", "call 555 0199 or 555 0123 today 2024 1999"),
        ("max_url_ratio", "see https://x.io/a and https://y.io/b for more info please"),
        ("max_repeated_line_ratio", "buy cheap watches now\n" * 3 + "one unique line here\n"),
    ],
)
@pytest.mark.parametrize("off", ["false", "0"])
def test_every_text_gate_can_be_switched_off(key, text, off):
    on = check(text_item(text), TEXT, GateConfig())[0]
    cfg = gates(f"[process.gates.text]\n{key} = {off}\n")
    assert getattr(cfg.text, key) is None
    after = check(text_item(text), TEXT, cfg)[0]
    assert on is not None and after != on


def test_language_gate(monkeypatch):
    class Fake:
        @staticmethod
        def classify(text):
            return ("fr" if "bonjour" in text.lower() else "en", 0.0)

    monkeypatch.setattr(dec, "_LANGID", Fake)
    cfg = gates('[process.gates.text]\nlanguages = ["en", "DE"]\n')
    assert cfg.text.languages == ["en", "de"]
    assert check(text_item(GOOD_TEXT), TEXT, cfg) == (None, "")
    reason, detail = check(text_item("Bonjour tout le monde, comment allez vous"), TEXT, cfg)
    assert reason == "text_language" and "'fr'" in detail


def test_language_gate_without_a_detector_is_a_config_error(monkeypatch):
    monkeypatch.setattr(dec, "_LANGID", False)
    with pytest.raises(FormatError, match="language detector"):
        gates('[process.gates.text]\nlanguages = ["en"]\n')
    assert gates("[process.gates.text]\nlanguages = false\n").text.languages is None


# ------------------------------------------------------------------ image, video, audio


@pytest.mark.parametrize(
    "w,h,reason",
    [(640, 480, None), (32, 32, None), (31, 400, "image_too_small"), (2000, 199, "image_aspect_ratio"), (2000, 200, None)],
)
def test_image_gates(w, h, reason):
    assert check(item(width=w, height=h, mode="RGB", format="PNG"), IMAGE, GateConfig())[0] == reason


def test_image_gates_off():
    cfg = gates("[process.gates.image]\nmin_side = 0\nmax_aspect_ratio = false\n")
    assert check(item(width=4000, height=2), IMAGE, cfg) == (None, "")


@pytest.mark.parametrize(
    "dur,w,h,reason",
    [
        (2.0, 64, 64, None),
        (0.4, 640, 360, "video_too_short"),
        (36_001, 640, 360, "video_too_long"),
        (5.0, 63, 360, "video_too_small"),
        (5.0, 640, 32, "video_too_small"),
    ],
)
def test_video_gates(dur, w, h, reason):
    assert check(item(duration_s=dur, width=w, height=h, fps=25.0), VIDEO, GateConfig())[0] == reason


def test_video_gates_off():
    cfg = gates("[process.gates.video]\nmin_duration_s = 0\nmax_duration_s = 0\nmin_width = false\nmin_height = 0\n")
    assert check(item(duration_s=0.01, width=8, height=8), VIDEO, cfg) == (None, "")


@pytest.mark.parametrize(
    "dur,sr,silence,reason",
    [
        (1.0, 16000, 0.1, None),
        (0.1, 16000, 0.1, "audio_too_short"),
        (40_000, 16000, 0.1, "audio_too_long"),
        (1.0, 4000, 0.1, "audio_sample_rate"),
        (1.0, 16000, 0.99, "audio_silent"),
    ],
)
def test_audio_gates(dur, sr, silence, reason):
    assert check(item(duration_s=dur, sample_rate=sr, silence_ratio=silence, channels=1), AUDIO, GateConfig())[0] == reason


def test_audio_gates_off():
    cfg = gates("[process.gates.audio]\nmin_duration_s = 0\nmin_sample_rate = false\nmax_silence_ratio = 0\n")
    assert check(item(duration_s=0.01, sample_rate=100, silence_ratio=1.0), AUDIO, cfg) == (None, "")


def test_real_files_through_both_stages():
    b = io.BytesIO()
    Image.new("RGB", (20, 300)).save(b, "PNG")
    assert check(decode_item(b.getvalue(), IMAGE), IMAGE, GateConfig())[0] == "image_too_small"
    b = io.BytesIO()
    sf.write(b, np.zeros(16000, np.float32), 16000, format="WAV")
    assert check(decode_item(b.getvalue(), AUDIO), AUDIO, GateConfig())[0] == "audio_silent"


def test_decode_rejections_pass_through():
    d = decode_item(b"", IMAGE)
    assert check(d, IMAGE, GateConfig()) == ("empty", d.detail)


# ------------------------------------------------------------------ other


def test_other_passes_by_default_whatever_its_size_or_name():
    assert describe_other(0, "data/.keep").features == {"bytes": 0, "extension": ""}
    for size, path in ((0, "empty"), (50 << 30, "ckpt/model.safetensors"), (12, "labels.CSV")):
        assert check(describe_other(size, path), OTHER) == (None, "")


def test_other_gates_size_and_extensions():
    g = gates('[process.gates.other]\nmax_size = 1000\nextensions = [".NPY", "csv", ""]\n')
    assert g.other.extensions == ["", "csv", "npy"]
    assert check(describe_other(1000, "a/w.npy"), OTHER, g) == (None, "")
    assert check(describe_other(2048, "a/w.npy"), OTHER, g) == ("other_too_large", "2,048 bytes > max_size 1,000")
    reason, detail = check(describe_other(10, "blob.bin"), OTHER, g)
    assert reason == "other_extension" and detail == 'extension bin is not one of other.extensions ("", csv, npy)'
    assert check(describe_other(10, "README"), OTHER, g) == (None, "")  # "" lists files without an extension
    assert gates("[process.gates.other]\nextensions = []\n").other.extensions is None  # an empty list is off, like false
    with pytest.raises(FormatError, match="list of file extensions"):
        gates("[process.gates.other]\nextensions = 3\n")


# ------------------------------------------------------------------ config


def test_defaults_and_partial_tables():
    cfg = gates("[process.gates.image]\nmin_side = 64\n")
    assert cfg.image.min_side == 64 and cfg.image.max_aspect_ratio == 10
    assert cfg.text.min_words == 3 and cfg.video.min_width == 64 and cfg.audio.max_silence_ratio == 0.95
    assert GateConfig.from_toml({}) == GateConfig() == GateConfig.from_toml(None)


@pytest.mark.parametrize(
    "toml,match",
    [
        ("[process.gates.text]\nmin_wrds = 5\n", "process.gates.text.min_wrds"),
        ("[process.gates.txt]\nmin_words = 5\n", r"process.gates.txt"),
        ('[process.gates.image]\nmin_side = "big"\n', "must be a number"),
        ("[process.gates.audio]\nmin_sample_rate = true\n", "must be a number"),
        ("[process.gates.video]\nmin_width = -1\n", "negative"),
    ],
)
def test_bad_settings_are_format_errors(toml, match):
    with pytest.raises(FormatError, match=match) as e:
        gates(toml)
    if "min_wrds" in toml:
        assert "min_words" in e.value.hint and "max_repeated_line_ratio" in e.value.hint


def test_config_dict_is_canonical_and_sensitive():
    base = GateConfig().config_dict()
    assert base["version"] >= 1 and base["image"]["min_side"] == 32
    assert gates("[process.gates.image]\nmin_side = false\n").config_dict() == gates("[process.gates.image]\nmin_side = 0\n").config_dict()
    assert gates("[process.gates.image]\nmin_side = 33\n").config_dict() != base
    import json

    json.dumps(base)


def test_gate_reasons_are_snake_case_and_documented():
    import os

    doc = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "process.md")).read()
    for reason in [*GATE_REASONS, *dec.REASONS]:
        assert reason == reason.lower() and " " not in reason
        assert f"`{reason}`" in doc, reason
