"""The sample order of an epoch, and who reads which part of it.

Everything here is a pure function of (seed, epoch, shard sample counts), specified so that it
never depends on a library's random generator:

* ``mix64(x)`` is SplitMix64's finaliser; a permutation of n things under a context string is
  the stable argsort of ``mix64(base + i·φ)``, with ``base`` the first 8 bytes (little-endian)
  of BLAKE3(context) and φ = 0x9E3779B97F4A7C15 (arithmetic mod 2^64).
* **Shard order**: the permutation of the shards under ``"{seed}/{epoch}/shards"`` (identity
  without shuffle).
* **Blocks**: consecutive runs of ``block_shards`` shards in that order. Inside block b the
  samples of its shards (concatenated in shard order) are permuted under
  ``"{seed}/{epoch}/block/{b}"``. This bounds how far a sample moves (one block) and so the
  shards a reader has open at once.
* **Positions**: the epoch's sequence is positions 0..N-1. Training consumes it in global steps
  of G = world_size × batch_size positions. At step t rank r takes positions
  [t·G + r·B, t·G + (r+1)·B), and within a rank, DataLoader worker w serves the steps with
  t ≡ w (mod num_workers), which is the order the DataLoader hands batches out in. A resumed
  loader re-stripes the remainder from the position where the state dict says consumption
  stopped, over whatever ranks and workers it now has.
"""

from __future__ import annotations

import bisect

PHI = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1


def context_base(context: str) -> int:
    from blake3 import blake3

    return int.from_bytes(blake3(context.encode()).digest(length=8), "little")


def mix64(x):
    """SplitMix64's output function on a numpy uint64 array (wrapping arithmetic)."""
    import numpy as np

    x = x.copy()
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def permutation(n: int, context: str):
    """A permutation of range(n) (numpy int64 array) fixed by ``context``."""
    import numpy as np

    with np.errstate(over="ignore"):
        x = np.uint64(context_base(context)) + np.arange(n, dtype=np.uint64) * np.uint64(PHI)
    return np.argsort(mix64(x), kind="stable")


class EpochOrder:
    """Maps an epoch position to (shard, sample within shard), one block at a time."""

    def __init__(self, counts: list[int], seed: int, epoch: int, shuffle: bool = True, block_shards: int = 1):
        import numpy as np

        self.counts = list(counts)
        self.seed, self.epoch, self.shuffle = seed, epoch, shuffle
        self.block_shards = max(1, int(block_shards))
        n = len(self.counts)
        self.shard_order = permutation(n, f"{seed}/{epoch}/shards").tolist() if shuffle else list(range(n))
        self.blocks = [self.shard_order[i:i + self.block_shards] for i in range(0, n, self.block_shards)]
        sizes = [sum(self.counts[s] for s in b) for b in self.blocks]
        self.block_starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64).tolist()
        self.total = self.block_starts[-1]
        self._shard_block = {s: b for b, blk in enumerate(self.blocks) for s in blk}
        self._cached: tuple = (-1, None, None)

    def block_of_shard(self, shard: int) -> int:
        return self._shard_block[shard]

    def block_of(self, pos: int) -> int:
        b = self._cached[0]
        if b >= 0 and self.block_starts[b] <= pos < self.block_starts[b + 1]:
            return b
        return bisect.bisect_right(self.block_starts, pos) - 1

    def _block(self, b: int):
        if self._cached[0] != b:
            import numpy as np

            shards = self.blocks[b]
            cnt = [self.counts[s] for s in shards]
            n = sum(cnt)
            perm = permutation(n, f"{self.seed}/{self.epoch}/block/{b}").tolist() if self.shuffle else range(n)
            self._cached = (b, perm, (shards, np.concatenate([[0], np.cumsum(cnt)]).tolist()))
        return self._cached[1], self._cached[2]

    def locate(self, pos: int) -> tuple[int, int]:
        b = self.block_of(pos)
        perm, (shards, starts) = self._block(b)
        local = perm[pos - self.block_starts[b]]
        if len(shards) == 1:
            return shards[0], local
        k = bisect.bisect_right(starts, local) - 1
        return shards[k], local - starts[k]


def positions(start: int, total: int, rank: int, world: int, worker: int, workers: int, batch: int, drop_last: bool = False):
    """The epoch positions one (rank, worker) reads, ascending, from ``start`` on."""
    g = world * batch
    end = start + (total - start) // g * g if drop_last else total
    step = worker
    while True:
        lo = start + step * g + rank * batch
        if lo >= end:
            return
        yield from range(lo, min(lo + batch, end))
        step += workers


def rank_count(start: int, total: int, rank: int, world: int, batch: int, drop_last: bool = False) -> int:
    """How many positions one rank reads from ``start`` to the end of the epoch."""
    g = world * batch
    end = start + (total - start) // g * g if drop_last else total
    span = end - start
    full, rest = divmod(span, g)
    return full * batch + min(batch, max(0, rest - rank * batch))
