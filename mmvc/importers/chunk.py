"""A unit's rows in columns: the form ``mmvc import`` holds, hands back from a worker, checkpoints
and writes into the index.

Raw ids, sizes and modalities as bytes, keys and metadata joined and compressed: about 50
bytes a row in memory instead of ~1.5 KiB of tuples and strings. ``Chunk.encode`` is the row
part of an import checkpoint (``mmvc.importers.checkpoint``; docs/format.md).
"""

from __future__ import annotations

import json

from mmvc.core.objects import canonical_json


class Chunk:
    """A read unit's rows in columns: raw ids, sizes and modalities as bytes, keys and metadata
    joined and compressed. About 50 bytes a row in memory instead of ~1.5 KiB of tuples and
    strings, cheap to hand back from a worker, and written into the index without becoming
    entries (``Index.write_bulk``)."""

    __slots__ = ("n", "ids", "sizes", "mods", "keys_z", "metas_z", "keys_len", "metas_len", "first", "last", "ordered", "bytes",
                 "by_mod")

    @classmethod
    def build(cls, keys: list[str], ids: bytes, sizes, mods: bytes, metas: list[str]) -> Chunk:
        import zlib
        from array import array

        c = cls()
        c.n = len(keys)
        k = "\0".join(keys).encode("utf-8")
        m = "\n".join(metas).encode("utf-8")
        c.keys_len, c.metas_len = len(k), len(m)
        c.keys_z, c.metas_z = zlib.compress(k, 1), zlib.compress(m, 1)
        a = sizes if isinstance(sizes, array) else array("Q", sizes)
        c.bytes = sum(a)
        if _BIG_ENDIAN:
            a = array("Q", a)
            a.byteswap()
        c.sizes, c.ids, c.mods = a.tobytes(), bytes(ids), bytes(mods)
        c.by_mod = {m: c.mods.count(m) for m in set(c.mods)}
        c.first, c.last = (keys[0], keys[-1]) if keys else ("", "")
        c.ordered = all(a < b for a, b in zip(keys, keys[1:]))
        return c

    def keys(self) -> list[str]:
        import zlib

        return zlib.decompress(self.keys_z).decode("utf-8").split("\0") if self.n else []

    def metas(self) -> list[str]:
        import zlib

        return zlib.decompress(self.metas_z).decode("utf-8").split("\n") if self.n else []

    def size_list(self) -> list[int]:
        from array import array

        a = array("Q")
        a.frombytes(self.sizes)
        if _BIG_ENDIAN:
            a.byteswap()
        return a.tolist()

    def rows(self) -> list[tuple]:
        """(key, id, size, modality, meta) per row."""
        h = self.ids.hex()
        oids = [h[i : i + 64] for i in range(0, 64 * self.n, 64)]
        return list(zip(self.keys(), oids, self.size_list(), list(self.mods), self.metas()))

    def bulk(self, flags: int):
        import zlib

        from mmvc.core.index import BulkEntries

        return BulkEntries(self.n, self.first, self.last, self.keys_len, self.metas_len, lambda: zlib.decompress(self.keys_z),
                           lambda: zlib.decompress(self.metas_z), self.ids, self.sizes, self.mods, bytes([flags]) * self.n)

    # checkpoint bytes: a JSON line of lengths, then the columns
    def encode(self) -> bytes:
        head = {"n": self.n, "keys": [self.keys_len, len(self.keys_z)], "metas": [self.metas_len, len(self.metas_z)]}
        return canonical_json(head) + b"\n" + self.ids + self.sizes + self.mods + self.keys_z + self.metas_z

    @classmethod
    def decode(cls, data: bytes, pos: int) -> Chunk:
        import zlib

        nl = data.index(b"\n", pos)
        head = json.loads(data[pos:nl])
        n, (kl, kz), (ml, mz) = head["n"], head["keys"], head["metas"]
        p = nl + 1
        ids, sizes, mods = data[p : p + 32 * n], data[p + 32 * n : p + 40 * n], data[p + 40 * n : p + 41 * n]
        p += 41 * n
        keys_z, metas_z = data[p : p + kz], data[p + kz : p + kz + mz]
        if p + kz + mz != len(data) or len(mods) != n:
            raise ValueError("checkpoint length")
        k, m = zlib.decompress(keys_z), zlib.decompress(metas_z)
        if (len(k), len(m)) != (kl, ml):
            raise ValueError("checkpoint length")
        c = cls.build(k.decode("utf-8").split("\0") if n else [], ids, [], mods, [])
        c.sizes, c.metas_z, c.metas_len = sizes, metas_z, ml
        c.bytes = sum(c.size_list())
        return c


_BIG_ENDIAN = __import__("sys").byteorder == "big"


class ChunkBuilder:
    """A Chunk built as rows arrive, keys and metadata compressed every few thousand rows, so a
    reader never holds a whole unit's strings."""

    FLUSH = 2048

    def __init__(self):
        import zlib
        from array import array

        self.ids, self.sizes, self.mods = bytearray(), array("Q"), bytearray()
        self._keys: list[str] = []
        self._metas: list[str] = []
        self._kz, self._mz = zlib.compressobj(1), zlib.compressobj(1)
        self._kout, self._mout = [], []
        self.n = self.keys_len = self.metas_len = 0
        self.first = self.last = ""
        self.ordered = True

    def add(self, keys: list[str], ids: bytes, sizes, mods: bytes, metas: list[str]) -> None:
        self.ids += ids
        self.sizes.extend(sizes)
        self.mods += mods
        self._keys += keys
        self._metas += metas
        if len(self._keys) >= self.FLUSH:
            self._flush()

    def _flush(self) -> None:
        keys, metas = self._keys, self._metas
        if not keys:
            return
        if self.n:
            self.ordered = self.ordered and self.last < keys[0]
        else:
            self.first = keys[0]
        self.ordered = self.ordered and all(a < b for a, b in zip(keys, keys[1:]))
        self.last = keys[-1]
        k = ("\0" if self.n else "") + "\0".join(keys)
        m = ("\n" if self.n else "") + "\n".join(metas)
        kb, mb = k.encode("utf-8"), m.encode("utf-8")
        self.keys_len += len(kb)
        self.metas_len += len(mb)
        self._kout.append(self._kz.compress(kb))
        self._mout.append(self._mz.compress(mb))
        self.n += len(keys)
        self._keys, self._metas = [], []

    def finish(self) -> Chunk:
        from array import array

        self._flush()
        c = Chunk()
        c.n, c.keys_len, c.metas_len, c.first, c.last, c.ordered = self.n, self.keys_len, self.metas_len, self.first, self.last, self.ordered
        c.keys_z = b"".join(self._kout) + self._kz.flush()
        c.metas_z = b"".join(self._mout) + self._mz.flush()
        c.bytes = sum(self.sizes)
        a = self.sizes
        if _BIG_ENDIAN:
            a = array("Q", a)
            a.byteswap()
        c.sizes, c.ids, c.mods = a.tobytes(), bytes(self.ids), bytes(self.mods)
        c.by_mod = {m: c.mods.count(m) for m in set(c.mods)}
        return c
