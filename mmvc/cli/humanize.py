"""Sizes and times as people read them, for the commands' text output."""

from __future__ import annotations

import time


def human_bytes(n: float) -> str:
    step = 1024.0
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < step or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= step
    return f"{n} B"


def fmt_time(ts: int, tz_minutes: int) -> str:
    sign = "+" if tz_minutes >= 0 else "-"
    t = time.gmtime(ts + tz_minutes * 60)
    return time.strftime("%Y-%m-%d %H:%M:%S", t) + f" {sign}{abs(tz_minutes) // 60:02d}{abs(tz_minutes) % 60:02d}"
