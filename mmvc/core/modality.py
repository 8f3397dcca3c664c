"""Modalities and how an item's modality is told from its bytes.

The codes are written to disk (index, manifest nodes), so the list is append-only: a new
modality takes the next code and old codes never change meaning. ``other`` is what matches
nothing else (annotations, tables, arrays, checkpoints): versioned like the rest, and gated by
the exact-duplicate tier and ``[process.gates.other]`` alone.
"""

from __future__ import annotations

import os

UNKNOWN, TEXT, IMAGE, VIDEO, AUDIO, OTHER = 0, 1, 2, 3, 4, 5
MODALITIES = {TEXT: "text", IMAGE: "image", VIDEO: "video", AUDIO: "audio", OTHER: "other"}
BY_NAME = {v: k for k, v in MODALITIES.items()}
# Manifest stats carry one slot per code 0..4 (format 1); slot 0 counts every item whose code
# has no slot of its own, which is ``other`` (code 0 is never written for an item).
MODALITY_SLOTS = 5
SNIFF_BYTES = 4096

_EXT = {
    **dict.fromkeys(
        "txt md markdown rst json jsonl ndjson csv tsv xml html htm yaml yml srt vtt tex py c h cpp js ts java go rs sql toml ini log".split(), TEXT
    ),
    **dict.fromkeys("jpg jpeg png gif webp bmp tif tiff heic heif avif jp2 ppm pgm pbm ico".split(), IMAGE),
    **dict.fromkeys("mp4 m4v mov mkv webm avi mpg mpeg ts3 flv wmv 3gp ogv".split(), VIDEO),
    **dict.fromkeys("wav flac mp3 ogg oga opus m4a aac aiff aif wma".split(), AUDIO),
}
_MP4_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ", b"F4A ")


def modality_name(code: int) -> str:
    return MODALITIES.get(code, "unknown")


def slot_name(slot: int) -> str:
    """The modality a manifest stats slot counts."""
    return "other" if slot == UNKNOWN else modality_name(slot)


def parse_modality(name: str) -> int:
    from mmvc.errors import BadInputError

    try:
        return BY_NAME[name.strip().lower()]
    except KeyError:
        raise BadInputError(f"unknown modality {name!r}", f"use one of: {', '.join(BY_NAME)}") from None


def extension_modality(path: str) -> int:
    ext = os.path.splitext(path)[1][1:].lower()
    return _EXT.get(ext, UNKNOWN)


def sniff(head: bytes) -> int:
    """The modality that a file's first bytes announce, or UNKNOWN."""
    if head[:3] == b"\xff\xd8\xff" or head[:8] == b"\x89PNG\r\n\x1a\n" or head[:6] in (b"GIF87a", b"GIF89a"):
        return IMAGE
    if head[:4] == b"RIFF" and len(head) >= 12:
        kind = head[8:12]
        if kind == b"WEBP":
            return IMAGE
        if kind == b"WAVE":
            return AUDIO
        if kind == b"AVI ":
            return VIDEO
    if head[:2] == b"BM" and len(head) >= 26 and head[6:10] == b"\0\0\0\0":
        return IMAGE
    if head[:4] in (b"II*\0", b"MM\0*"):
        return IMAGE
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1"):
            return IMAGE
        if brand in _MP4_AUDIO_BRANDS:
            return AUDIO
        return VIDEO
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return VIDEO  # Matroska / WebM
    if head[:4] == b"fLaC" or head[:3] == b"ID3" or head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return AUDIO
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return AUDIO  # MPEG audio frame sync (mp3) or ADTS (aac)
    if head[:4] == b"OggS":
        return VIDEO if b"theora" in head[:256] else AUDIO
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return VIDEO
    return UNKNOWN


def _looks_like_text(head: bytes) -> bool:
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as e:
        # a multi-byte character cut by the sniff window is still text
        return e.start >= len(head) - 3 and len(head) >= SNIFF_BYTES - 3


def detect(path: str, head: bytes) -> int:
    """Content first, extension as the hint, ``other`` when nothing matches.

    A known binary signature wins over the extension (a PNG named .jpg is an image); a file
    whose extension names a modality but whose bytes match no signature keeps that modality,
    so that ``process`` can reject it (corrupt, not UTF-8) rather than mmvc guessing."""
    by_content = sniff(head)
    if by_content != UNKNOWN:
        return by_content
    by_ext = extension_modality(path)
    if by_ext != UNKNOWN:
        return by_ext  # a .txt that is not UTF-8 stays text, for `process` to reject as not_utf8
    if _looks_like_text(head):
        return TEXT
    return OTHER
