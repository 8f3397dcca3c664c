"""Modality detection: content signatures first, the extension as a hint, text as the fallback."""

from __future__ import annotations

import struct

import pytest

from mmvc.core.modality import (
    AUDIO,
    IMAGE,
    OTHER,
    SNIFF_BYTES,
    TEXT,
    UNKNOWN,
    VIDEO,
    detect,
    extension_modality,
    modality_name,
    parse_modality,
    sniff,
)
from mmvc.errors import BadInputError


def riff(kind: bytes, body: bytes = b"") -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + kind + body


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


PNG = b"\x89PNG\r\n\x1a\n" + box(b"IHDR", struct.pack(">IIBBBBB", 64, 48, 8, 6, 0, 0, 0)) + b"\0" * 4
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb"
GIF = b"GIF89a" + struct.pack("<HH", 10, 10) + b"\xf7\x00\x00"
WEBP = riff(b"WEBP", b"VP8 " + struct.pack("<I", 10) + b"\0" * 10)
WAV = riff(b"WAVE", b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16) + b"data\0\0\0\0")
FLAC = b"fLaC\x00\x00\x00\x22" + b"\x10" * 34
MP3_ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x0aTIT2" + b"\0" * 16 + b"\xff\xfb\x90\x64"
MP3_FRAME = b"\xff\xfb\x90\x64" + b"\x00" * 100
OGG_VORBIS = b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x1e\x01vorbis" + b"\x00" * 30
OGG_THEORA = b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x2a\x80theora" + b"\x00" * 30
MP4 = box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2avc1mp41") + box(b"free", b"")
M4A = box(b"ftyp", b"M4A \x00\x00\x00\x00M4A mp42isom") + box(b"free", b"")
MKV = b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x88matroska"
AVI = riff(b"AVI ", b"LIST" + struct.pack("<I", 4) + b"hdrl")
TEXT_BYTES = "A dog on a beach.\nÜnïcödé caption, 日本語.\n".encode()
JUNK = bytes([0x00, 0x01, 0x02, 0x03, 0xFE, 0xFD, 0x80, 0x7F]) * 64


@pytest.mark.parametrize(
    "name, head, expected",
    [
        ("x.png", PNG, IMAGE),
        ("x.jpg", JPEG, IMAGE),
        ("x.gif", GIF, IMAGE),
        ("x.webp", WEBP, IMAGE),
        ("x.wav", WAV, AUDIO),
        ("x.flac", FLAC, AUDIO),
        ("x.mp3", MP3_ID3, AUDIO),
        ("x.mp3", MP3_FRAME, AUDIO),
        ("x.ogg", OGG_VORBIS, AUDIO),
        ("x.ogv", OGG_THEORA, VIDEO),
        ("x.mp4", MP4, VIDEO),
        ("x.m4a", M4A, AUDIO),
        ("x.mkv", MKV, VIDEO),
        ("x.avi", AVI, VIDEO),
        ("x.txt", TEXT_BYTES, TEXT),
    ],
)
def test_each_format_is_detected_by_name_and_by_content_alone(name, head, expected):
    assert detect(name, head) == expected
    assert detect("no-extension", head) == expected  # the bytes alone suffice
    assert detect("misnamed.bin", head) == expected


@pytest.mark.parametrize("head", [PNG, JPEG, GIF, WEBP, WAV, FLAC, MP3_ID3, OGG_VORBIS, MP4, M4A, MKV, AVI])
def test_binary_signatures_are_recognised_by_sniff(head):
    assert sniff(head) != UNKNOWN


def test_sniff_does_not_claim_text():
    assert sniff(TEXT_BYTES) == UNKNOWN
    assert sniff(b"") == UNKNOWN


def test_content_wins_over_a_misleading_extension():
    assert detect("photo.jpg", PNG) == IMAGE
    assert detect("notes.txt", WAV) == AUDIO
    assert detect("clip.mp4", M4A) == AUDIO


def test_binary_junk_is_other_unless_the_extension_names_a_modality():
    assert detect("blob.bin", JUNK) == OTHER
    assert detect("blob", JUNK) == OTHER
    assert detect("weights.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '<f4'") == OTHER
    # a .txt that is not UTF-8 stays "text" so that `process` rejects it (not_utf8) instead of
    # `add` refusing it: the failure belongs in the report, with the rest of the curation
    assert detect("blob.txt", JUNK) == TEXT
    # a .jpg whose bytes are not an image stays "image" so that `process` rejects it as corrupt
    assert detect("broken.jpg", JUNK) == IMAGE
    assert detect("broken.WAV", JUNK) == AUDIO
    assert detect("broken.mkv", JUNK) == VIDEO


def test_invalid_utf8_is_not_text():
    assert detect("x", b"caption \xff\xfe here") == OTHER
    assert detect("x", b"\xc3\x28" * 20) == OTHER


def test_text_cut_inside_a_multibyte_character_at_the_sniff_window_is_still_text():
    head = ("é" * SNIFF_BYTES).encode()[: SNIFF_BYTES - 1]  # ends in half a character
    assert detect("x", head) == TEXT
    short = "é".encode()[:1]  # a short file really ending in half a character is not text
    assert detect("x", b"abc" + short) == OTHER


def test_empty_files():
    # Zero bytes are valid (empty) UTF-8: text unless the name says otherwise. `process` then
    # rejects the item as empty with a reason, instead of `add` refusing an unknown type.
    assert detect("empty", b"") == TEXT
    assert detect("empty.txt", b"") == TEXT
    assert detect("empty.png", b"") == IMAGE


def test_modality_codes_are_part_of_the_format():
    assert (UNKNOWN, TEXT, IMAGE, VIDEO, AUDIO, OTHER) == (0, 1, 2, 3, 4, 5)
    assert [modality_name(c) for c in range(7)] == ["unknown", "text", "image", "video", "audio", "other", "unknown"]
    assert parse_modality("other") == OTHER


def test_parse_modality_and_extension_hints():
    assert parse_modality(" Image ") == IMAGE
    assert parse_modality("audio") == AUDIO
    with pytest.raises(BadInputError):
        parse_modality("smell")
    assert extension_modality("dir.v2/PHOTO.JPEG") == IMAGE
    assert extension_modality("archive.tar.gz") == UNKNOWN
    assert extension_modality("Makefile") == UNKNOWN
