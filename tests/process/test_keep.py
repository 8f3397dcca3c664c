"""The keep policy: which member of a duplicate group survives, and the words that say why."""

from __future__ import annotations

import pytest

from mmvc.core.modality import AUDIO, IMAGE, TEXT, VIDEO
from mmvc.process.keep import Candidate, KeepPolicy, member_groups


def image(key, w, h, q=None, **kw):
    return Candidate(key, IMAGE, 1000, {"width": w, "height": h, **({"quality": q} if q else {})}, **kw)


def test_quality_prefers_pixels_times_jpeg_quality_then_the_earlier_path():
    keep = KeepPolicy("quality")
    original, reencoded, resized = image("z/orig.jpg", 640, 480, 95), image("a/re.jpg", 640, 480, 60), image("b/small.jpg", 576, 432, 95)
    assert keep.choose([reencoded, resized, original]) is original
    assert keep.reason(original, reencoded) == "higher quality: 640×480 px at quality 95 against 640×480 px at quality 60"
    png = image("p.png", 640, 480)  # lossless: quality 100
    assert keep.choose([original, png]) is png
    twin = image("y/orig.jpg", 640, 480, 95)
    assert keep.choose([original, twin]) is twin and keep.reason(twin, original) == "same quality; earlier path"


def test_quality_for_text_video_and_audio():
    keep = KeepPolicy("quality")
    short, long = Candidate("a.txt", TEXT, 10, {"chars": 120}), Candidate("b.txt", TEXT, 12, {"chars": 131})
    assert keep.choose([short, long]) is long and "131 characters" in keep.reason(long, short)
    low, high = Candidate("a.mp4", VIDEO, 1_000_000, {"duration_s": 10.0}), Candidate("b.mp4", VIDEO, 4_000_000, {"duration_s": 10.0})
    assert keep.choose([low, high]) is high and "3,200 kbit/s over 10.0 s" in keep.reason(high, low)
    assert keep.choose([Candidate("a.wav", AUDIO, 5, {}), Candidate("b.wav", AUDIO, 9, {})]).key == "b.wav"
    # lossless audio by the bitrate of its samples: a compressed FLAC beats a bigger WAV of half the rate
    flac = Candidate("a.flac", AUDIO, 300_000, {"format": "FLAC", "sample_rate": 44_100, "channels": 1, "duration_s": 5.0})
    wav = Candidate("b.wav", AUDIO, 220_500, {"format": "WAV", "sample_rate": 22_050, "channels": 1, "duration_s": 5.0})
    ogg = Candidate("c.ogg", AUDIO, 60_000, {"format": "OGG", "sample_rate": 44_100, "channels": 1, "duration_s": 5.0})
    assert keep.choose([wav, ogg, flac]) is flac and keep.reason(flac, ogg) == "higher quality: 706 kbit/s over 5.0 s against 96 kbit/s over 5.0 s"


def test_mixed_modalities_go_by_path_and_head_always_wins():
    keep = KeepPolicy("quality")
    still, clip = image("b.png", 4000, 3000), Candidate("a.mp4", VIDEO, 10, {"duration_s": 1.0})
    assert keep.choose([still, clip]) is clip and keep.reason(clip, still) == "different modalities; earlier path"
    head = image("z.jpg", 10, 10, 5, in_head=True)
    assert keep.choose([still, head]) is head and keep.reason(head, still) == "already in HEAD"


def test_first_path_and_oldest():
    a, b = image("a.jpg", 10, 10, mtime_ns=2_000_000_000_000_000_000), image("b.jpg", 900, 900, mtime_ns=1_000_000_000_000_000_000)
    assert KeepPolicy("first-path").choose([b, a]) is a and KeepPolicy("first-path").reason(a, b) == "earlier path"
    oldest = KeepPolicy("oldest")
    assert oldest.choose([a, b]) is b and oldest.reason(b, a).startswith("older file: 2001-09-09")
    unknown = image("0.jpg", 1, 1)  # imported rows carry no time: they count as newest
    assert oldest.choose([unknown, a]) is a
    with pytest.raises(ValueError):
        KeepPolicy("newest")


def test_the_earlier_path_puts_an_original_before_the_copies_named_after_it():
    keep = KeepPolicy("first-path")
    for original, copy in (("images/ocean.png", "images/ocean-copy.png"), ("photo.jpg", "photo (1).jpg"),
                           ("a/x.txt", "a/x_copy.txt"), ("a.txt", "a/b.txt"), ("b/a.txt", "b/a.txt.bak")):
        assert keep.choose([image(copy, 1, 1), image(original, 1, 1)]).key == original, (original, copy)
    assert KeepPolicy("quality").reason(image("ocean.png", 5, 5), image("ocean-copy.png", 5, 5)) == "same quality; earlier path"


def test_member_groups():
    assert sorted(map(sorted, member_groups({"b": "a", "c": "a", "e": "d"}))) == [["a", "b", "c"], ["d", "e"]]


@pytest.mark.parametrize("table, message", [
    ({"dedup": {"keep": "biggest"}}, "unknown keep policy 'biggest' under [process.dedup]"),
    ({"semantic": {"keep": "first"}}, "[process.semantic] keep has moved to [process.dedup] keep"),
    ({"semantic": {"cross_modality": "yes"}}, "cross_modality must be true or false"),
    ({"dedup": {"policy": "quality"}}, "unknown setting(s) under [process.dedup]: policy"),
])
def test_bad_dedup_settings_are_one_line_errors(table, message):
    from mmvc.errors import ExitCode, FormatError
    from mmvc.process.config import ProcessConfig

    with pytest.raises(FormatError) as e:
        ProcessConfig.from_table(table)
    assert message in e.value.message and "\n" not in e.value.message and e.value.hint
    assert e.value.exit_code == ExitCode.FORMAT


def test_keep_policy_and_cross_modality_are_part_of_the_config_hash():
    from mmvc.process.config import ProcessConfig

    base = ProcessConfig.from_table({})
    assert (base.keep, base.cross_modality) == ("quality", False)
    hashes = {base.config_hash(), ProcessConfig.from_table({"dedup": {"keep": "oldest"}}).config_hash(),
              ProcessConfig.from_table({"semantic": {"cross_modality": True}}).config_hash()}
    assert len(hashes) == 3
