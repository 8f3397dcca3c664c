"""The built-in stages (mmvc.process.builtin_stages), enabled by name in ``[process] stages``:
Gopher's text repetition measures checked against hand-computed values and gated in a real
``process`` run, and the audio silence measures on tones with and without silence."""

from __future__ import annotations

import io

import numpy as np
import pytest

from mmvc.process.builtin_stages import AudioSilence, text_quality
from mmvc.process.stages import BUILTIN, load_specs
from tests.process.test_stages import staged_repo, verdicts
from tests.process_fixtures import STORY

TINY = "the cat sat on the mat\nthe cat sat on the mat\n- a dog...\n"


def test_text_quality_by_hand():
    q = text_quality(TINY)
    # words: the cat sat on the mat (×2), a, dog: 14 words, 17 + 17 + 1 + 3 = 38 characters
    assert q["word_count"] == 14
    assert q["mean_word_len"] == pytest.approx(38 / 14)
    assert q["symbol_word_ratio"] == pytest.approx(1 / 14)  # one "..."
    assert q["bullet_line_frac"] == pytest.approx(1 / 3) and q["ellipsis_line_frac"] == pytest.approx(1 / 3)
    assert q["dup_line_frac"] == pytest.approx(1 / 3)
    assert q["dup_line_char_frac"] == pytest.approx(22 / (22 + 22 + 10))
    assert q["dup_para_frac"] == 0 and q["dup_para_char_frac"] == 0  # one paragraph
    # every 2-, 3- and 4-gram of the line occurs twice; the longest wins the tie
    assert q["top_2gram_frac"] == pytest.approx(2 * len("thecat") / 38)  # "the cat" and "the mat": 6 characters
    assert q["top_3gram_frac"] == pytest.approx(2 * len("thecatsat") / 38)  # 9, over "cat sat on" and the others' 8
    assert q["top_4gram_frac"] == pytest.approx(2 * len("thecatsaton") / 38)  # 11, as "sat on the mat"
    # the two 5-grams and one 6-gram of the line repeat: they cover both lines' 34 characters
    assert q["dup_5gram_frac"] == q["dup_6gram_frac"] == pytest.approx(34 / 38)
    assert q["dup_7gram_frac"] == q["dup_10gram_frac"] == 0


def test_text_quality_paragraphs_and_edges():
    q = text_quality("Intro here.\n\nSame block.\n\nSame block.\n\nSame block.")
    assert q["dup_para_frac"] == pytest.approx(2 / 4)
    assert q["dup_para_char_frac"] == pytest.approx(22 / (11 + 33))
    empty = text_quality("")
    assert empty["word_count"] == 0 and empty["mean_word_len"] == 0 and empty["top_2gram_frac"] == 0
    clean = text_quality(STORY)
    assert clean["dup_line_frac"] == 0 and clean["dup_5gram_frac"] == 0 and clean["top_2gram_frac"] < 0.2


def test_builtin_names_resolve_without_an_entry_point():
    specs = load_specs(["text_quality", "audio_silence"], {"audio_silence": {"silence_dbfs": -40}})
    assert [s.target for s in specs] == [BUILTIN["text_quality"], BUILTIN["audio_silence"]]
    assert specs[1].inputs == ("bytes",) and specs[1].settings == {"silence_dbfs": -40}


LOREM = "Click here to subscribe to our newsletter for the latest deals on shoes and bags."
REPEATED_NGRAMS = " ".join(["buy cheap shoes online today best price"] * 12)


def test_text_quality_gate_rejects_repetition_and_passes_clean_prose(tmp_path, tiny_models):
    files = {"t/story.txt": STORY, "t/lines.txt": "\n".join([LOREM] * 6 + [STORY]), "t/ngrams.txt": REPEATED_NGRAMS}
    repo = staged_repo(tmp_path, tiny_models, files, ["text_quality"], """
[process.gates.text]
max_repeated_line_ratio = 1.0   # the rule gate's own line check off: the stage's gate decides

[process.gates.text_quality]
reject_if = "dup_line_frac > 0.3 OR top_2gram_frac > 0.2"
""")
    res = repo.process()
    v = verdicts(repo)
    assert v["t/story.txt"].status == "passed"
    assert (v["t/lines.txt"].status, v["t/lines.txt"].stage, v["t/lines.txt"].reason) == ("rejected", "text_quality", "reject_if")
    assert "dup_line_frac=0.714" in v["t/lines.txt"].detail  # 5 of 7 lines repeat an earlier one
    assert v["t/ngrams.txt"].status == "rejected" and "top_2gram_frac=" in v["t/ngrams.txt"].detail
    assert res.user_stages["text_quality"]["computed"] == 3
    repo.commit("clean text")
    q = repo.query(where="dup_5gram_frac = 0", columns="key,word_count,mean_word_len")
    assert q.table.column("key").to_pylist() == ["t/story.txt"]
    assert q.table.column("word_count").to_pylist() == [text_quality(STORY)["word_count"]]


def tone(parts, rate: int = 16000, fmt: str = "WAV") -> bytes:
    """Concatenated (frequency, seconds, amplitude) parts; frequency 0 is silence."""
    import soundfile as sf

    chunks = []
    for freq, secs, amp in parts:
        t = np.arange(int(secs * rate)) / rate
        chunks.append(amp * np.sin(2 * np.pi * freq * t) if freq else np.zeros_like(t))
    buf = io.BytesIO()
    sf.write(buf, np.concatenate(chunks), rate, format=fmt, subtype="PCM_16" if fmt == "WAV" else None)
    return buf.getvalue()


def test_audio_silence_measures_tones():
    stage = AudioSilence()
    full = stage.measure(tone([(440, 1.0, 0.5)]))
    assert full["silence_frac"] == 0 and full["audio_seconds"] == pytest.approx(1.0)
    # a sine of amplitude A has RMS A/√2: 0.5 → 20·log10(0.5/√2) ≈ −9.03 dBFS; peak 20·log10(0.5) ≈ −6.02
    assert full["noise_floor_dbfs"] == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.1)
    assert full["peak_dbfs"] == pytest.approx(20 * np.log10(0.5), abs=0.01)
    gappy = stage.measure(tone([(440, 0.5, 0.5), (0, 1.5, 0), (440, 0.5, 0.5)], fmt="FLAC"))
    assert gappy["silence_frac"] == pytest.approx(1.5 / 2.5, abs=0.01)
    assert gappy["noise_floor_dbfs"] < -100  # digital silence
    hiss = stage.measure(tone([(3000, 2.0, 0.001)]))  # a −63 dBFS hum: "silent" at −50
    assert hiss["silence_frac"] == 1 and hiss["noise_floor_dbfs"] == pytest.approx(20 * np.log10(0.001 / np.sqrt(2)), abs=0.5)
    assert AudioSilence(silence_dbfs=-70).measure(tone([(3000, 2.0, 0.001)]))["silence_frac"] == 0


def test_audio_silence_gate_in_a_run(tmp_path, tiny_models):
    files = {"a/tone.wav": tone([(440, 2.0, 0.5)]), "a/gappy.wav": tone([(440, 0.5, 0.5), (0, 2.0, 0), (660, 0.5, 0.5)]),
             "a/broken.wav": b"RIFF\x00\x00\x00\x00WAVEnot audio at all" * 4}
    repo = staged_repo(tmp_path, tiny_models, files, ["audio_silence"], """
[process.gates.audio_silence]
reject_if = "silence_frac > 0.5"
""")
    repo.process()
    v = verdicts(repo)
    assert v["a/tone.wav"].status == "passed"
    assert (v["a/gappy.wav"].status, v["a/gappy.wav"].reason) == ("rejected", "reject_if")
    assert v["a/broken.wav"].status == "rejected"  # by decode already, or by the stage: never a crash
