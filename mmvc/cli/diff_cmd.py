import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand

LETTERS = {"added": "A", "removed": "D", "modified": "M", "meta": "T", "renamed": "R"}
JSON_SCHEMA = 1


class DiffCommand(MmvcCommand):
    """Takes ``-- PATHS`` apart from the revisions before click sees them: after ``--`` click
    would hand both to the same argument, and a path must never be mistaken for a revision."""

    def parse_args(self, ctx, args):
        if "--" in args:
            i = args.index("--")
            ctx.meta["diff_paths"] = args[i + 1 :]
            args = args[:i]
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx):
        return super().collect_usage_pieces(ctx) + ["[-- PATHS...]"]


@click.command("diff", cls=DiffCommand, examples=[
    ("mmvc diff main HEAD --stat", "counts and bytes per modality between two versions"),
    ("mmvc diff --cached --name-status", "what the next commit records"),
    ("mmvc diff main HEAD --md --limit 50", "Markdown for a pull-request comment"),
])
@click.argument("revs", nargs=-1, metavar="[REV [REV]]", shell_complete=complete.revisions)
@click.option("--cached", "--staged", "cached", is_flag=True, help="Compare REV (default HEAD) with the index.")
@click.option("--stat", "stat", is_flag=True, help="Counts and bytes per modality instead of paths.")
@click.option("--name-status", "name_status", is_flag=True, help="One tab-separated line per change: A, D, M, T or R, then the path(s).")
@json_option("Print the diff as JSON (schema 1, see docs/cli.md).")
@click.option("--md", "as_md", is_flag=True, help="Print a Markdown summary fit for a pull-request comment.")
@click.option("--limit", type=click.IntRange(min=0), default=50, metavar="N", help="Changes listed by --md (default 50; 0: the table alone).")
@click.option("--exit-code", "exit_code", is_flag=True, help="Exit with 1 when there are differences, 0 when there are none.")
@click.pass_context
@pass_console
def command(con, ctx, revs, cached, stat, name_status, as_json, as_md, limit, exit_code):
    """Show what changed, with Git's meanings: no REV compares the index with the work tree;
    --cached compares REV (default HEAD) with the index; one REV compares it with the work tree;
    two REVs (or A..B) compare two versions. PATHS after -- limit the diff to those folders,
    files or globs.

    Letters: A added, D deleted, M modified (content), T metadata only (meta, modality or
    executable bit; same content), R renamed (same content, new path)."""
    from mmvc.errors import ExitCode
    from mmvc.repo import Repo

    if sum((stat, name_status, as_json, as_md)) > 1:
        raise click.UsageError("choose one of --stat, --name-status, --json and --md")
    if len(revs) > 2:
        raise click.UsageError("at most two revisions; put paths after `--`")
    rev_a, rev_b = (tuple(revs) + (None, None))[:2]
    r = Repo.discover().diff(rev_a, rev_b, cached=cached, paths=ctx.meta.get("diff_paths", ()))
    if as_json:
        _json(con, r)
    elif as_md:
        _markdown(con, r, limit)
    elif stat:
        _stat(con, r)
    elif name_status:
        _name_status(con, r)
    else:
        _default(con, r)
    if exit_code and r.has_differences:
        ctx.exit(ExitCode.DIFFERENCES)


def _side(s) -> str:
    if s.kind == "commit":
        return f"{s.rev} ({s.commit[:12]})" if s.rev and s.rev != s.commit else s.commit[:12]
    return {"index": "index", "worktree": "work tree", "empty": f"{s.rev} (no commits yet)"}[s.kind]


def _quoted(path: str) -> str:
    """Paths with tabs, newlines, quotes or control characters are quoted (as Git quotes them),
    so that one change is always one line and no escape sequence reaches the terminal."""
    from mmvc.core.pathrules import display_path

    return display_path(path)


def _default(con, r) -> None:
    from mmvc.cli.humanize import human_bytes

    write = con.write
    for c in r.changes:
        if c.kind == "added":
            info = f"+{human_bytes(c.new.size)}"
        elif c.kind == "removed":
            info = f"-{human_bytes(c.old.size)}"
        elif c.kind == "modified":
            info = f"{human_bytes(c.old.size)} -> {human_bytes(c.new.size)}"
        elif c.kind == "renamed":
            info = human_bytes(c.new.size) + (", " + ", ".join(c.fields) if c.fields else "")
        else:
            info = ", ".join(c.fields)
        path = f"{_quoted(c.old_path)} -> {_quoted(c.path)}" if c.kind == "renamed" else _quoted(c.path)
        write(f"{LETTERS[c.kind]}  {path}  ({c.modality}, {info})\n")


def _name_status(con, r) -> None:
    write = con.write
    for c in r.changes:
        if c.kind == "renamed":
            write(f"R\t{_quoted(c.old_path)}\t{_quoted(c.path)}\n")
        else:
            write(f"{LETTERS[c.kind]}\t{_quoted(c.path)}\n")


_STAT_COLS = ("added", "removed", "modified", "renamed", "meta")


def _stat(con, r) -> None:
    from mmvc.cli.humanize import human_bytes

    rows = [(m, s) for m, s in r.by_modality.items()] + ([("total", r.total)] if r.by_modality else [])
    con.data(f"{_side(r.a)} -> {_side(r.b)}")
    if not rows:
        con.data("no differences")
        return
    head = ["modality", *_STAT_COLS, "bytes added", "bytes removed"]
    table = [head] + [[m, *(str(getattr(s, k)) for k in _STAT_COLS), "+" + human_bytes(s.bytes_added), "-" + human_bytes(s.bytes_removed)]
                      for m, s in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for n, row in enumerate(table):
        if n == len(table) - 1 and len(table) > 2:
            con.data(" " + "-" * (sum(widths) + 2 * (len(widths) - 1)))
        con.data(" " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))


def _entry_json(e):
    import json

    if e is None:
        return None
    from mmvc.core.modality import modality_name

    return {"oid": e.oid, "size": e.size, "modality": modality_name(e.modality), "executable": bool(e.flags & 1),
            "meta": json.loads(e.meta) if e.meta else None}


def _json(con, r) -> None:
    """One object, written change by change so that a million-change diff needs no big buffer."""
    import dataclasses
    import json

    write = con.write
    dump = lambda v: json.dumps(v, ensure_ascii=False)  # noqa: E731
    stats = lambda s: dataclasses.asdict(s)  # noqa: E731
    write('{"schema": %d,\n "from": %s,\n "to": %s,\n "paths": %s,\n' % (
        JSON_SCHEMA, dump(dataclasses.asdict(r.a)), dump(dataclasses.asdict(r.b)), dump(r.paths)))
    write(' "summary": %s,\n' % dump({"total": stats(r.total), "by_modality": {m: stats(s) for m, s in r.by_modality.items()}}))
    write(' "evaluations": %s,\n "changes": [' % dump([dataclasses.asdict(e) for e in r.evaluations]))
    first = True
    for c in r.changes:
        write("\n  " if first else ",\n  ")
        write(dump({"status": c.kind, "letter": LETTERS[c.kind], "path": c.path, "old_path": c.old_path, "modality": c.modality,
                    "fields": list(c.fields), "old": _entry_json(c.old), "new": _entry_json(c.new)}))
        first = False
    write("\n ]}\n" if not first else "]}\n")


def _md_code(path: str) -> str:
    from mmvc.core.pathrules import display_path

    text = display_path(path).replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" else f"`{text}`"


def _markdown(con, r, limit: int) -> None:
    from mmvc.cli.evals_render import evaluations_markdown

    _markdown_changes(con, r, limit)
    if r.evaluations:
        con.data("")
        con.data("#### Evaluations")
        con.data("")
        for line in evaluations_markdown(r.evaluations, _side(r.a), _side(r.b)):
            con.data(line)


def _markdown_changes(con, r, limit: int) -> None:
    from mmvc.cli.humanize import human_bytes

    out = con.data
    out(f"### mmvc diff: {_side(r.a)} → {_side(r.b)}")
    out("")
    if not r.changes:
        out("No differences.")
        return
    t = r.total
    out(f"**{len(r.changes)} change(s)**: {t.added} added, {t.removed} removed, {t.modified} modified, {t.renamed} renamed, "
        f"{t.meta} metadata only; +{human_bytes(t.bytes_added)} / -{human_bytes(t.bytes_removed)}")
    out("")
    out("| modality | added | removed | modified | renamed | metadata | bytes added | bytes removed |")
    out("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for m, s in [*r.by_modality.items(), ("**total**", t)]:
        out(f"| {m} | {s.added} | {s.removed} | {s.modified} | {s.renamed} | {s.meta} | +{human_bytes(s.bytes_added)} | -{human_bytes(s.bytes_removed)} |")
    if limit == 0:
        return
    out("")
    out("| | path | modality | size |")
    out("| --- | --- | --- | ---: |")
    for c in r.changes[:limit]:
        path = f"{_md_code(c.old_path)} → {_md_code(c.path)}" if c.kind == "renamed" else _md_code(c.path)
        if c.kind == "modified":
            size = f"{human_bytes(c.old.size)} → {human_bytes(c.new.size)}"
        elif c.kind == "meta":
            size = ", ".join(c.fields)
        else:
            size = human_bytes((c.new or c.old).size)
        out(f"| {LETTERS[c.kind]} | {path} | {c.modality} | {size} |")
    if len(r.changes) > limit:
        out("")
        out(f"… and {len(r.changes) - limit} more")
