"""The ``mmvc`` command group: global options, error handling and rich help."""

from __future__ import annotations

import os
import sys

import click

from mmvc import __version__

COMMANDS = {
    # name: (module, one-line help shown by `mmvc --help` without importing the module)
    "init": ("mmvc.cli.init_cmd", "Create an empty repository"),
    "add": ("mmvc.cli.add_cmd", "Hash, store and stage files"),
    "import": ("mmvc.cli.import_cmd", "Stage items from datasets, tables, archives and buckets"),
    "status": ("mmvc.cli.status_cmd", "Show staged, unstaged and untracked changes"),
    "process": ("mmvc.cli.process_cmd", "Run the curation pipeline over the staged items"),
    "report": ("mmvc.cli.report_cmd", "Why items were rejected or deduplicated"),
    "commit": ("mmvc.cli.commit_cmd", "Record the staged items as a new version"),
    "log": ("mmvc.cli.log_cmd", "Show the history of versions"),
    "show": ("mmvc.cli.show_cmd", "Show a version: commit, counts and bytes per modality"),
    "diff": ("mmvc.cli.diff_cmd", "Show what changed between versions, the index and the work tree"),
    "ls-files": ("mmvc.cli.ls_files_cmd", "List the items of the index or of a version"),
    "cat-object": ("mmvc.cli.cat_object_cmd", "Print a stored object (plumbing)"),
    "rev-parse": ("mmvc.cli.rev_parse_cmd", "Print the ids (or ref names) revisions stand for (plumbing)"),
    "rm": ("mmvc.cli.rm_cmd", "Stop tracking items and delete their files"),
    "mv": ("mmvc.cli.mv_cmd", "Rename a tracked file or folder"),
    "restore": ("mmvc.cli.restore_cmd", "Restore work-tree files or index entries"),
    "branch": ("mmvc.cli.branch_cmd", "List, create, delete or rename branches"),
    "switch": ("mmvc.cli.switch_cmd", "Switch to a branch"),
    "checkout": ("mmvc.cli.checkout_cmd", "Check out a version, or restore paths from one"),
    "merge": ("mmvc.cli.merge_cmd", "Merge another branch into the current one"),
    "tag": ("mmvc.cli.tag_cmd", "Create, list or delete tags"),
    "reflog": ("mmvc.cli.reflog_cmd", "Show where HEAD or a branch has pointed"),
    "fsck": ("mmvc.cli.fsck_cmd", "Check every version, the index and the store for missing or corrupt objects"),
    "gc": ("mmvc.cli.gc_cmd", "Remove unreachable objects past a grace period and repack"),
    "search": ("mmvc.cli.search_cmd", "Find the items of a version nearest to a text or an example"),
    "query": ("mmvc.cli.query_cmd", "Catalog rows of a version that match a filter"),
    "lineage": ("mmvc.cli.lineage_cmd", "Show an item's source chain, license, process config and models"),
    "datasheet": ("mmvc.cli.datasheet_cmd", "Write a Markdown datasheet with plots for a version"),
    "catalog": ("mmvc.cli.catalog_cmd", "Inspect or rebuild the Lance catalog"),
    "recipe": ("mmvc.cli.recipe_cmd", "Create, show or list recipes: a version, filter, mixture and seed under a name"),
    "eval": ("mmvc.cli.eval_cmd", "Record, list and compare evaluation results pinned to versions"),
    "export": ("mmvc.cli.export_cmd", "Write a version or recipe as deterministic WebDataset shards"),
    "remote": ("mmvc.cli.remote_cmd", "Add, list or remove remotes (s3://, gs://, file://, memory://)"),
    "push": ("mmvc.cli.push_cmd", "Send versions and the objects a remote lacks"),
    "fetch": ("mmvc.cli.fetch_cmd", "Download a remote's new versions into refs/remotes/NAME/*"),
    "pull": ("mmvc.cli.pull_cmd", "Fetch, then merge the remote's branch"),
    "clone": ("mmvc.cli.clone_cmd", "Make a repository from a remote (--filter blob:none for metadata only)"),
    "config": ("mmvc.cli.config_cmd", "Read or set a repository setting"),
    "completion": ("mmvc.cli.completion_cmd", "Print a shell completion script"),
    "ui": ("mmvc.cli.ui_cmd", "Browse versions, items, curation, diffs and search in a local web page"),
}


class RichHelpMixin:
    """Help rendered with rich: a usage line, the description, options and commands as tables,
    and the command's examples: (command line, what it does) pairs, each a command that runs."""

    def __init__(self, *args, examples: tuple[tuple[str, str], ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.examples = tuple(examples)

    def get_help(self, ctx):
        from mmvc.cli.help import render_help

        return render_help(self, ctx)


class MmvcCommand(RichHelpMixin, click.Command):
    pass


class MmvcSubgroup(RichHelpMixin, click.Group):
    """A group of subcommands (``mmvc remote add``): each summarised by its first help line, and a
    mistyped name answered with the closest ones."""

    def command_summary(self, name: str) -> str:
        return self.commands[name].get_short_help_str(90)

    def resolve_command(self, ctx, args):
        name = args[0] if args else ""
        if name and not name.startswith("-") and not ctx.resilient_parsing and self.get_command(ctx, name) is None:
            import difflib

            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            if close:
                ctx.fail(f"No such command {name!r}. Did you mean {' or '.join(repr(c) for c in close)}?")
        return super().resolve_command(ctx, args)


class MmvcGroup(MmvcSubgroup):
    """Loads each command's module only when that command runs (fast start), and turns every way
    a command can end into one message and a documented exit code (docs/cli.md): the library's
    typed errors, an output that cannot be written, Ctrl-C, and any other exception (a bug)."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        import importlib

        return importlib.import_module(COMMANDS[name][0]).command

    def command_summary(self, name: str) -> str:
        return COMMANDS[name][1]

    def make_context(self, info_name, args, parent=None, **extra):
        argv = list(args)
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except OSError as e:  # `mmvc --help` or `--version` into a closed or full stdout
            from mmvc.cli.console import Console, output_failure

            raise click.exceptions.Exit(_report_output_failure(Console(), output_failure(e))) from None
        ctx.meta["mmvc.argv"] = argv
        return ctx

    def invoke(self, ctx):
        from mmvc.cli.console import Console, OutputError, output_failure
        from mmvc.errors import ExitCode, MmvcError

        # The root callback makes the console from the global options, so look it up only when needed.
        try:
            try:
                rv = super().invoke(ctx)
            except click.exceptions.Exit:
                Console.of(ctx).flush()
                raise
            Console.of(ctx).flush()  # a full or closed stdout fails here, while the error can still be told
            return rv
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except OutputError as e:
            ctx.exit(_report_output_failure(Console.of(ctx), e))
        except BrokenPipeError as e:
            ctx.exit(_report_output_failure(Console.of(ctx), output_failure(e)))
        except MmvcError as e:
            _debug_traceback(Console.of(ctx), e)
            Console.of(ctx).error(e.message, e.hint)
            ctx.exit(e.exit_code)
        except ModuleNotFoundError as e:  # an optional package that no `require` guarded
            from mmvc.core.extras import missing_extra

            err = missing_extra(e)
            if err is None:
                raise
            Console.of(ctx).error(err.message, err.hint)
            ctx.exit(err.exit_code)
        except KeyboardInterrupt:
            Console.of(ctx).error("interrupted", "committed versions are intact; the next mmvc command finishes an interrupted "
                                  "switch or checkout, and `mmvc merge --continue` or `--abort` an interrupted merge")
            # Locks and temp files are already released; skip interpreter teardown, where an
            # interrupted native engine (Ray) can crash and turn exit 130 into a signal.
            _flush_quietly()
            os._exit(ExitCode.INTERRUPTED)
        except Exception as e:
            ctx.exit(_report_internal_error(Console.of(ctx), e, ctx.meta.get("mmvc.argv", [])))


def _report_output_failure(con, e) -> int:
    """Tell of an output that cannot be written (not at all for a reader that went away), and
    point stdout at the null device so that the interpreter's own last flush cannot fail again."""
    from mmvc.cli.console import OutputClosed

    if not isinstance(e, OutputClosed):
        con.error(e.message, e.hint)
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):  # not a real descriptor (an in-process runner)
        pass
    return e.exit_code


def _debug_traceback(con, e: BaseException) -> None:
    from mmvc.cli.crash import debugging, traceback_text

    if debugging():
        con.warn(traceback_text(e).rstrip("\n"))


def _report_internal_error(con, e: Exception, argv: list[str]) -> int:
    """An exception nobody expected: one line, and where its traceback is (MMVC_DEBUG=1 prints it)."""
    from mmvc.cli.crash import DEBUG_ENV, debugging, write_report
    from mmvc.errors import ExitCode

    what = f"{type(e).__name__}: {e}".splitlines()[0] if str(e) else type(e).__name__
    if debugging():
        _debug_traceback(con, e)
        con.error(f"internal error: {what}", "this is a bug in mmvc; please report it with the traceback above")
        return ExitCode.INTERNAL
    path = write_report(e, argv)
    where = f"the traceback is in {path}" if path else "no file could take the traceback"
    con.error(f"internal error: {what}", f"this is a bug in mmvc; {where} (set {DEBUG_ENV}=1 to print it); please report it")
    return ExitCode.INTERNAL


def _flush_quietly() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def _chdir(ctx, param, value):
    if value:
        try:
            os.chdir(value)
        except OSError as e:
            raise click.BadParameter(f"cannot change to {value!r}: {e.strerror}", ctx=ctx, param=param) from None
    return value


@click.group(cls=MmvcGroup, context_settings={"help_option_names": ["-h", "--help"]}, examples=[
    ("mmvc init", "start a repository in the current folder"),
    ("mmvc add images/", "stage a folder; then `mmvc process` and `mmvc commit -m MSG`"),
    ("mmvc -C datasets/captions log --oneline", "run in another folder's repository"),
])
@click.option("-C", "chdir", metavar="DIR", callback=_chdir, expose_value=False, is_eager=True,
              help="Run as if mmvc was started in DIR.")
@click.option("-q", "--quiet", is_flag=True, help="No notes or progress bars on stderr (results and errors still print).")
@click.option("--no-color", is_flag=True, help="No colours (also when NO_COLOR is set).")
@click.version_option(__version__, "--version", prog_name="mmvc", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx, quiet, no_color):
    """mmvc: Git for multimodal training data.

    Every asset is stored once by its BLAKE3 hash, a version is a tree of pointers, and
    nothing enters a version until the curation gates have passed it.
    """
    from mmvc.cli.console import Console

    ctx.obj = Console(quiet=quiet, no_color=no_color)


# Native engines whose thread pools can abort the interpreter's teardown after a command has
# finished and printed everything (pyarrow: "terminate called without an active exception",
# apache/arrow#34314, seen in a few percent of runs that read Parquet).
_NATIVE = ("pyarrow", "lance", "ray", "torch", "duckdb")


def main():
    try:
        cli.main(prog_name="mmvc")
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    if any(m in sys.modules for m in _NATIVE):
        # Every file and ref is already durable (written, fsynced where promised, renamed);
        # only the teardown is skipped, and with it the crash that would turn 0 into 134.
        _flush_quietly()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
