"""The one output layer of the command line.

Every command writes through one ``Console``, made by the root group from the global options
and handed down through click's context (as hatch's ``Application`` and DVC's ``ui``). The rule
it keeps: the result of a command (what was asked for, or the summary of what was done) goes to
stdout; notes, warnings, progress bars and errors go to stderr. ``--quiet`` silences the notes
and the progress, never the result; colour is decided once, from ``--no-color``, ``NO_COLOR``,
``FORCE_COLOR`` and whether the stream is a terminal.

Writing the result can fail (``> /dev/full``, ``| head -1``): such a failure is raised as an
``OutputError`` or ``OutputClosed`` here, never as a traceback.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from contextlib import contextmanager

import click

from mmvc.errors import ExitCode, MmvcError


class OutputError(MmvcError):
    """stdout could not be written (a full disk, a failing device)."""

    exit_code = ExitCode.OUTPUT


class OutputClosed(OutputError):
    """The reader of stdout went away (``mmvc log | head -1``): stop quietly, like Git."""

    exit_code = ExitCode.OUTPUT_CLOSED


def output_failure(e: OSError) -> OutputError:
    if e.errno == errno.EPIPE:
        return OutputClosed("the reader of the output went away")
    return OutputError(f"cannot write the output: {e.strerror or e}",
                       "free space on the device stdout goes to (or send it elsewhere); what the command did is kept")


def _env_set(name: str) -> bool:
    return bool(os.environ.get(name))  # https://no-color.org: set and not empty


def wants_color(stream, no_color: bool = False) -> bool:
    if no_color or _env_set("NO_COLOR"):
        return False
    if _env_set("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


class Console:
    def __init__(self, quiet: bool = False, no_color: bool = False, stdout=None, stderr=None):
        self.quiet = quiet
        self.json = False  # set by a command's --json: no progress bars, stdout is one document
        self._out = stdout if stdout is not None else sys.stdout
        self._err = stderr if stderr is not None else sys.stderr
        self.color = wants_color(self._out, no_color)
        self.color_err = wants_color(self._err, no_color)

    @classmethod
    def of(cls, ctx: click.Context | None = None) -> Console:
        """The console of the running command (a default one outside the ``mmvc`` group)."""
        ctx = ctx or click.get_current_context(silent=True)
        if ctx is None:
            return cls()
        con = ctx.find_object(cls)
        if con is None:
            con = ctx.find_root().obj = cls()
        return con

    # -- stdout: the result

    def data(self, text: str = "") -> None:
        """One line of the result."""
        self.write(text + "\n")

    def write(self, text: str) -> None:
        try:
            self._out.write(text)
        except OSError as e:
            raise output_failure(e) from None

    def write_bytes(self, data: bytes) -> None:
        try:
            self._out.flush()
            self._out.buffer.write(data)
        except OSError as e:
            raise output_failure(e) from None

    def json_value(self, value) -> None:
        self.write(json.dumps(to_jsonable(value), ensure_ascii=False, indent=2) + "\n")

    def json_stream(self, items) -> None:
        """A JSON array written item by item, so listing ten million items needs no big buffer."""
        self.write("[")
        first = True
        for it in items:
            self.write(("\n  " if first else ",\n  ") + json.dumps(to_jsonable(it), ensure_ascii=False))
            first = False
        self.write("\n]\n" if not first else "]\n")

    def flush(self) -> None:
        try:
            self._out.flush()
        except OSError as e:
            raise output_failure(e) from None

    # -- stderr: everything else

    def info(self, text: str) -> None:
        """A note for the person at the terminal; ``--quiet`` silences it."""
        if not self.quiet:
            self._note(text)

    def warn(self, text: str) -> None:
        """Something the user should know even under ``--quiet`` (skipped items, held-back items)."""
        self._note(text)

    def error(self, message: str, hint: str | None = None) -> None:
        self._note(self.style("error:", err=True, fg="red", bold=True) + " " + message)
        if hint:
            self._note(self.style("hint:", err=True, fg="yellow") + " " + hint)

    def _note(self, text: str) -> None:
        try:
            self._err.write(text + "\n")
            self._err.flush()
        except (OSError, ValueError):
            pass  # nowhere left to say it

    def style(self, text: str, err: bool = False, **kw) -> str:
        """``text`` with click.style's colours and weights, when the stream it goes to takes them."""
        return click.style(text, **kw) if (self.color_err if err else self.color) else text

    @property
    def to_terminal(self) -> bool:
        """Whether the result goes to a terminal (not a pipe or a file)."""
        try:
            return self._out.isatty()
        except (AttributeError, ValueError, OSError):
            return False

    def rich(self, err: bool = False):
        """A rich console on stdout (or stderr) that follows this console's colour decision."""
        from rich.console import Console as RichConsole

        color = self.color_err if err else self.color
        return RichConsole(file=self._err if err else self._out, highlight=False, soft_wrap=True,
                           force_terminal=True if color else None, no_color=not color, color_system="auto" if color else None)

    # -- progress

    @property
    def shows_progress(self) -> bool:
        if self.quiet or self.json or os.environ.get("TERM") == "dumb":
            return False
        try:
            return self._err.isatty()
        except (AttributeError, ValueError, OSError):
            return False

    @contextmanager
    def progress(self, description: str, unit_bytes: bool = True):
        """Yields a callback (done, done_bytes, total, total_bytes), or None where no bar is drawn."""
        if not self.shows_progress:
            yield None
            return
        from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

        cols = [TextColumn("{task.description}"), BarColumn()] + ([] if unit_bytes else [MofNCompleteColumn()])
        if unit_bytes:
            cols += [DownloadColumn(), TransferSpeedColumn()]
        cols.append(TimeRemainingColumn())
        with Progress(*cols, console=self.rich(err=True), transient=True) as p:
            task = p.add_task(description, total=None)

            def update(done, done_bytes, total, total_bytes):
                p.update(task, completed=done_bytes if unit_bytes else done, total=total_bytes if unit_bytes else total)
                p.tasks[0].description = f"{description} {done}/{total}"

            yield update

    @contextmanager
    def stages(self):
        """Yields a callback (stage, done, total) that draws one bar per pipeline stage, or None."""
        if not self.shows_progress:
            yield None
            return
        from rich.console import Console as RichConsole
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        # a copy of the terminal's descriptor: the pipeline sends descriptor 2 to a log while Ray runs
        term = os.fdopen(os.dup(self._err.fileno()), "w", buffering=1)
        con = RichConsole(file=term, force_terminal=True, no_color=not self.color_err, color_system="auto" if self.color_err else None)
        with term, Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=con, transient=True, redirect_stdout=False, redirect_stderr=False) as p:
            # sys.stderr is left alone (no redirect through the bars): what Ray writes there lands in its log
            tasks: dict = {}

            def update(stage, done, total):
                if stage not in tasks:
                    tasks[stage] = p.add_task(stage, total=total or None)
                p.update(tasks[stage], completed=done, total=total or None)

            yield update


pass_console = click.make_pass_decorator(Console, ensure=True)


def json_option(help: str = "Print the result as JSON."):
    """``--json``, passed to the command as ``as_json``; it also tells the console (no progress bars)."""

    def remember(ctx, param, value):
        if value:
            Console.of(ctx).json = True
        return value

    return click.option("--json", "as_json", is_flag=True, help=help, callback=remember)


def to_jsonable(v):
    import dataclasses

    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {k: to_jsonable(x) for k, x in dataclasses.asdict(v).items()}
    if isinstance(v, tuple) and hasattr(v, "_asdict"):
        return {k: to_jsonable(x) for k, x in v._asdict().items()}
    if isinstance(v, (list, tuple)):
        return [to_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): to_jsonable(x) for k, x in v.items()}
    return v
