"""A unit's rows in columns (``mmvc.importers.chunk``): what a checkpoint stores and the index takes."""

from __future__ import annotations

import pytest

from mmvc.importers.chunk import Chunk


def test_chunk_checkpoint_round_trip():
    keys = ["k/a.txt", "k/b.txt", "k/c.txt"]
    c = Chunk.build(keys, bytes(range(32)) * 3, [1, 2, 3 << 40], bytes([1, 1, 2]), ['{"x":1}', "", '{"é":"ü"}'])
    assert c.ordered and (c.first, c.last, c.bytes, c.by_mod) == ("k/a.txt", "k/c.txt", 3 + (3 << 40), {1: 2, 2: 1})
    d = Chunk.decode(c.encode(), 0)
    assert d.rows() == c.rows() == [(k, bytes(range(32)).hex(), s, m, meta) for k, s, m, meta in
                                    zip(keys, [1, 2, 3 << 40], [1, 1, 2], ['{"x":1}', "", '{"é":"ü"}'])]
    assert not Chunk.build(["b", "a"], bytes(64), [1, 1], bytes([1, 1]), ["", ""]).ordered
    with pytest.raises(ValueError):
        Chunk.decode(c.encode()[:-1], 0)
