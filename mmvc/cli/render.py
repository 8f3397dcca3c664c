"""Output helpers shared by the commands: rich consoles, JSON, progress bars, sizes and times."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from contextlib import contextmanager

_consoles: dict = {}


def console(stderr: bool = False):
    from rich.console import Console

    key = "err" if stderr else "out"
    if key not in _consoles:
        _consoles[key] = Console(stderr=stderr, highlight=False, soft_wrap=True)
    return _consoles[key]


def emit_json(value) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), ensure_ascii=False, indent=2) + "\n")


def emit_json_stream(items) -> None:
    """A JSON array written item by item, so listing ten million items needs no big buffer."""
    out = sys.stdout
    out.write("[")
    first = True
    for it in items:
        out.write("\n  " if first else ",\n  ")
        out.write(json.dumps(to_jsonable(it), ensure_ascii=False))
        first = False
    out.write("\n]\n" if not first else "]\n")


def to_jsonable(v):
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {k: to_jsonable(x) for k, x in dataclasses.asdict(v).items()}
    if isinstance(v, tuple) and hasattr(v, "_asdict"):
        return {k: to_jsonable(x) for k, x in v._asdict().items()}
    if isinstance(v, (list, tuple)):
        return [to_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): to_jsonable(x) for k, x in v.items()}
    return v


def chatter(msg: str) -> None:
    """Human-facing notes go to stderr so that stdout stays data."""
    console(stderr=True).print(msg)


def human_bytes(n: int) -> str:
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


@contextmanager
def progress_bar(description: str, enabled: bool = True, unit_bytes: bool = True):
    """Yields a callback (done, done_bytes, total, total_bytes); draws only on a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    cols = [TextColumn("{task.description}"), BarColumn()] + ([] if unit_bytes else [MofNCompleteColumn()])
    if unit_bytes:
        cols += [DownloadColumn(), TransferSpeedColumn()]
    cols.append(TimeRemainingColumn())
    with Progress(*cols, console=console(stderr=True), transient=True) as p:
        task = p.add_task(description, total=None)
        files_task = {"t": task}

        def update(done, done_bytes, total, total_bytes):
            p.update(files_task["t"], completed=done_bytes if unit_bytes else done, total=total_bytes if unit_bytes else total)
            p.tasks[0].description = f"{description} {done}/{total}"

        yield update


@contextmanager
def progress_stages(enabled: bool = True):
    """Yields a callback (stage, done, total) that draws one bar per pipeline stage on a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    import os

    from rich.console import Console

    # a copy of the terminal's descriptor: the pipeline sends descriptor 2 to a log while Ray runs
    term = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
    # sys.stderr is left alone (no redirect through the bars): what Ray writes there lands in its log
    with Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(file=term, force_terminal=True), transient=True, redirect_stdout=False, redirect_stderr=False) as p:
        tasks: dict = {}

        def update(stage, done, total):
            if stage not in tasks:
                tasks[stage] = p.add_task(stage, total=total or None)
            p.update(tasks[stage], completed=done, total=total or None)

        yield update
