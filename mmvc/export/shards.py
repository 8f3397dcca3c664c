"""WebDataset tar shards written byte for byte the same from the same inputs.

Every member header is a POSIX ustar header with fixed fields (mode 0644, uid/gid 0, empty
user and group names, mtime 0), members follow the sample order, each sample's members follow
in a fixed order (payload, ``.json``, vectors), and the archive ends as GNU tar ends one (two
zero blocks, padded to a 10240-byte record). A shard's size is therefore known before it is
written, which is how shards are planned, written in parallel and checked on ``--resume``.
"""

from __future__ import annotations

import re
from json import JSONEncoder
from json import loads as _json_loads

from mmvc.core.modality import AUDIO, IMAGE, MODALITIES, TEXT, VIDEO

BLOCK = 512
RECORD = 10240
_DEFAULT_EXT = {TEXT: "txt", IMAGE: "img", VIDEO: "video", AUDIO: "audio"}
_EXT_OK = re.compile(r"[a-z0-9]{1,12}")
RESERVED_EXTS = ("json", "npy")
META_KEYS = ("caption", "extra", "license", "provenance", "source", "transcript")
_USTAR_TAIL = (b"0000644\0" + b"0000000\0" * 2)  # mode, uid, gid
_USTAR_REST = (b"0" + b"\0" * 100 + b"ustar\x0000" + b"\0" * 64 + b"\0" * 16 + b"\0" * 155).ljust(BLOCK - 156, b"\0")
# every byte of a header but the name and size digits is fixed; the checksum counts its own
# field as eight spaces
_CONST_SUM = sum(_USTAR_TAIL) + 0 + sum(b"00000000000\0") + 8 * 32 + sum(_USTAR_REST)
MAX_USTAR_SIZE = 8 ** 11 - 1
# mmvc.core.objects.canonical_json's settings, one encoder made once (a million samples)
_CANONICAL = JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def payload_ext(path: str, modality: int) -> str:
    """The item's own extension when WebDataset can carry it, else one named by its modality."""
    base = path.rsplit("/", 1)[-1]
    if "." in base.lstrip("."):
        ext = base.rsplit(".", 1)[1].lower()
        if _EXT_OK.fullmatch(ext) and ext not in RESERVED_EXTS:
            return ext
    return _DEFAULT_EXT.get(modality, "bin")


def sample_key(index: int) -> str:
    """Keys are the sample's position in the export (an item drawn twice is two samples, and
    item paths may hold dots, which WebDataset would read as extensions)."""
    return f"{index:09d}"


def padded(n: int) -> int:
    return (n + BLOCK - 1) // BLOCK * BLOCK


def member_size(n: int) -> int:
    return BLOCK + padded(n)


def archive_size(body: int) -> int:
    """Bytes of a whole tar whose members take ``body`` bytes: end blocks, then the record pad."""
    return (body + 2 * BLOCK + RECORD - 1) // RECORD * RECORD


def tar_header(name: str, size: int) -> bytes:
    """A ustar header for a regular file, identical to ``tarfile``'s for the same fixed fields
    (tests compare them); sizes past ustar's 8 GiB use tarfile's GNU encoding."""
    raw = name.encode("utf-8")
    if len(raw) > 100 or size > MAX_USTAR_SIZE:
        import tarfile

        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime, ti.mode, ti.uid, ti.gid, ti.uname, ti.gname = size, 0, 0o644, 0, 0, "", ""
        return ti.tobuf(tarfile.GNU_FORMAT, "utf-8", "strict")
    size_field = b"%011o" % size
    chk = _CONST_SUM + sum(raw) + sum(size_field)
    return b"".join((raw.ljust(100, b"\0"), _USTAR_TAIL, size_field, b"\0", b"00000000000\0", b"%06o\0 " % chk, _USTAR_REST))


def sample_json(index: int, s) -> bytes:
    """The ``.json`` member: what the item is, where it came from, under which terms."""
    return _CANONICAL.encode(sample_meta(index, s)).encode("utf-8")


def sample_meta(index: int, s) -> dict:
    doc = {"key": s.path, "modality": MODALITIES.get(s.modality, "unknown"), "oid": s.oid, "sample": index, "size": s.size}
    if s.meta:
        meta = _json_loads(s.meta)
        for k in META_KEYS:
            if k in meta:
                doc[k] = meta[k]
    if s.component >= 0:
        doc["component"] = s.component
    return doc


def npy_bytes(vector) -> bytes:
    import io

    import numpy as np

    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(vector, dtype="<f4"), version=(1, 0), allow_pickle=False)
    return buf.getvalue()
