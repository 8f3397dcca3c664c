"""Which member of a duplicate group survives: the keep policy (``[process.dedup] keep``).

Every tier (exact, near, semantic) finds groups; this module alone decides which member stays,
so the tiers agree. An item already in HEAD always wins: it crossed the gate when it entered
the version, and a newcomer never displaces it. Among newcomers:

* ``quality`` (the default): the better copy, then the earlier path. Pictures by pixels ×
  JPEG quality (lossless formats count as 100), video and audio by bitrate × duration (for
  lossless audio the bitrate of its samples, 16 bits each: a FLAC file is not worse than a WAV
  because it is compressed; for lossy audio and for video, the coded bitrate, which makes
  bitrate × duration the stream's size), text by its length in characters (every text here
  passed the gates, so the longer one is the longer clean text). Scores are compared within
  one modality only; a group spanning modalities (``[process.semantic] cross_modality =
  true``) goes by path.
* ``first-path``: the earliest path.

"Earlier path" compares folders, then file names without their extension, then extensions,
so an original comes before the copies named after it: ``ocean.png`` before
``ocean-copy.png``, ``photo.jpg`` before ``photo (1).jpg`` (plain byte order would put the
copies first, ``-``, `` `` and ``_`` sorting before ``.``).
* ``oldest``: the file with the oldest modification time recorded when it was staged (items
  without one, such as imported rows, count as newest), then the earlier path.

The reason a survivor won is written into the process report (column ``kept``), so ``mmvc
report`` can say why each survivor was chosen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from mmvc.core.modality import AUDIO, IMAGE, TEXT, VIDEO

KEEP_POLICIES = ("quality", "first-path", "oldest")
DEFAULT_KEEP = "quality"
_LOSSLESS_AUDIO = {"WAV", "WAVEX", "RF64", "W64", "FLAC", "AIFF", "AIFC", "CAF"}  # stage 1's audio "format" names


@dataclass
class Candidate:
    """A group member as the keep policy sees it."""

    key: str
    modality: int
    size: int
    features: dict = field(default_factory=dict)
    mtime_ns: int = 0
    in_head: bool = False


def bitrate(c: Candidate) -> float:
    """Bits per second of a video or audio item (see the module docstring)."""
    f = c.features
    seconds = float(f.get("duration_s") or 0)
    if c.modality == AUDIO and str(f.get("format", "")).upper() in _LOSSLESS_AUDIO and f.get("sample_rate"):
        return float(f["sample_rate"]) * float(f.get("channels") or 1) * 16
    return 8.0 * c.size / seconds if seconds else 8.0 * c.size


def path_order(path: str) -> tuple[str, str, str]:
    folder, _, name = path.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    return (folder, stem, ext) if dot and stem else (folder, name, "")


def quality(c: Candidate) -> float:
    f = c.features
    if c.modality == IMAGE:
        return float(f.get("width") or 0) * float(f.get("height") or 0) * float(f.get("quality") or 100) / 100.0
    if c.modality == TEXT:
        return float(f.get("chars") or 0)
    if c.modality in (VIDEO, AUDIO):
        return bitrate(c) * float(f.get("duration_s") or 1)
    return float(c.size)


def _describe(c: Candidate) -> str:
    f = c.features
    if c.modality == IMAGE:
        return f"{f.get('width', '?')}×{f.get('height', '?')} px at quality {f.get('quality') or 100}"
    if c.modality == TEXT:
        return f"{int(f.get('chars') or 0):,} characters"
    if c.modality in (VIDEO, AUDIO) and f.get("duration_s"):
        return f"{bitrate(c) / 1000:,.0f} kbit/s over {float(f['duration_s']):.1f} s"
    return f"{c.size:,} bytes"


def _when(ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ns / 1e9)) if ns else "unknown"


class KeepPolicy:
    def __init__(self, policy: str = DEFAULT_KEEP):
        if policy not in KEEP_POLICIES:
            raise ValueError(f"unknown keep policy {policy!r}")
        self.policy = policy

    def _rank(self, c: Candidate, same_modality: bool) -> tuple:
        """Smaller is better."""
        if c.in_head:
            return (0, 0.0, path_order(c.key))
        if self.policy == "quality" and same_modality:
            return (1, -quality(c), path_order(c.key))
        if self.policy == "oldest":
            return (1, float(c.mtime_ns) if c.mtime_ns else float("inf"), path_order(c.key))
        return (1, 0.0, path_order(c.key))

    def choose(self, members: list[Candidate]) -> Candidate:
        same = len({c.modality for c in members}) == 1
        return min(members, key=lambda c: self._rank(c, same))

    def reason(self, winner: Candidate, loser: Candidate) -> str:
        """Why ``winner`` was kept rather than ``loser``, in words for the report."""
        if winner.in_head:
            return "already in HEAD"
        if self.policy == "quality":
            if winner.modality != loser.modality:
                return "different modalities; earlier path"
            if quality(winner) != quality(loser):
                return f"higher quality: {_describe(winner)} against {_describe(loser)}"
            return "same quality; earlier path"
        if self.policy == "oldest" and winner.mtime_ns != loser.mtime_ns:
            return f"older file: {_when(winner.mtime_ns)} against {_when(loser.mtime_ns)}"
        return "earlier path" if self.policy == "first-path" else f"no {self.policy} difference; earlier path"

    def config_dict(self) -> dict:
        return {"keep": self.policy, "quality": 1}  # bump "quality" when the score or the path order changes


def member_groups(dups: dict[str, str]) -> list[list[str]]:
    """{member: representative} as the tiers return it → groups (representative first)."""
    out: dict[str, list[str]] = {}
    for key, rep in dups.items():
        out.setdefault(rep, [rep]).append(key)
    return list(out.values())
