import click

from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand

SHOW = 20


def limit_or_all(verbose: bool):
    return None if verbose else SHOW


@click.command("status", cls=MmvcCommand, examples=[
    ("mmvc status", "staged, unstaged and untracked changes with counts per modality"),
    ("mmvc status -s", "one line per path, two status letters (index, work tree) as in Git"),
    ("mmvc status --porcelain=v2", "Git's stable porcelain v2 lines, for scripts"),
    ("mmvc status --json", "the whole status as one JSON document"),
])
@json_option("Print the status as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="List every path instead of the first 20 per section.")
@click.option("--untracked/--no-untracked", default=True, help="Look for untracked files.")
@click.option("-s", "--short", is_flag=True, help="One line per path: XY PATH (X the index, Y the work tree), as `git status -s`.")
@click.option("--porcelain", type=click.Choice(["v1", "v2"]), is_flag=False, flag_value="v1", metavar="[=v1|v2]",
              help="Git's stable formats for scripts: v1 (as --short, no colour) or v2 (with branch headers, hashes).")
@pass_console
def command(con, as_json, verbose, untracked, short, porcelain):
    """Show staged changes, unstaged changes and untracked files, with counts per modality."""
    from mmvc.core.pathrules import display_path
    from mmvc.repo import Repo

    r = Repo.discover().status(untracked=untracked)
    if as_json:
        con.json_value({"branch": r.branch, "head": r.head, "gated": r.gated, "clean": r.clean, "counts": r.counts(),
                   "staged": r.staged, "unstaged": r.unstaged, "untracked": r.untracked, "merging": r.merging, "moving": r.moving,
                   "verdicts": r.verdicts,
                   "skipped": [{"path": p, "reason": why} for p, why in r.skipped]})
        return
    if short or porcelain:
        render_porcelain(con, r, porcelain or "short")
        return
    out, style = con.data, con.style
    where = f"On branch {r.branch.rsplit('/', 1)[-1]}" if r.branch else f"HEAD detached at {r.head[:12]}"
    out(where + ("" if r.head else " (no commits yet)"))
    if r.moving:
        to = (r.moving["ref"] or "").split("/", 2)[-1] or str(r.moving["target"])[:12]
        out(style(f"An interrupted switch to {to} is half done: the next writing command finishes it (or run the same switch again)", fg="yellow"))
    if r.merging:
        n = len(r.merging["conflicts"]) + len(r.merging["curation"])
        out(f"You are merging {r.merging['theirs'][:12]}: {n} conflict(s) to settle, then `mmvc merge --continue` (or --abort)")
        for p in r.merging["conflicts"][:limit_or_all(verbose)]:
            out(style(f"    both changed: {display_path(p)}", fg="red"))
        for c in r.merging.get("curation", [])[:limit_or_all(verbose)]:
            out(style(f"    duplicates ({c['tier']}): ours {display_path(c['ours'])} ≈ theirs {display_path(c['theirs'])}", fg="red"))
    counts = r.counts()
    limit = None if verbose else SHOW
    for title, section, color in (("Changes to be committed", "staged", "green"), ("Changes not staged", "unstaged", "red"),
                                  ("Untracked files", "untracked", "red")):
        changes = getattr(r, section)
        if not changes:
            continue
        per = " · ".join(f"{n} {m}" for m, n in counts[section].items())
        out(f"\n{title}: {len(changes)} ({per})")
        if section == "staged" and r.verdicts:
            order = ("passed", "duplicate", "rejected", "stale", "unprocessed")
            line = " · ".join(f"{sum(r.verdicts[v].values()):,} {v}" for v in order if v in r.verdicts)
            mods = "; ".join(f"{v}: " + ", ".join(f"{n} {m}" for m, n in sorted(r.verdicts[v].items())) for v in order if v in r.verdicts)
            out(f"  process: {line}  ({mods})")
            if "unprocessed" in r.verdicts or "stale" in r.verdicts:
                out("  run `mmvc process` before committing: unprocessed or stale items cannot enter a version")
        for c in changes[:limit]:
            label = "" if section == "untracked" else f"{c.kind}: ".ljust(11)
            path = f"{display_path(c.from_path)} -> {display_path(c.path)}" if c.from_path else display_path(c.path)
            out(style(f"    {label}{path}", fg=color))
        if limit is not None and len(changes) > limit:
            out(f"    … and {len(changes) - limit} more (-v lists all)")
    if r.clean:
        out("nothing to commit, working tree clean")


NO_OID = "0" * 64


def render_porcelain(con, r, fmt: str) -> None:
    """``short`` and ``v1``: ``XY PATH`` (``XY FROM -> PATH`` for a rename); ``v2``: Git's
    porcelain v2 records, with every item's mode 100644 and its ids as BLAKE3 hex."""
    if fmt == "v2":
        con.data(f"# branch.oid {r.head or '(initial)'}")
        con.data(f"# branch.head {r.branch.rsplit('/', 1)[-1] if r.branch else '(detached)'}")
    for row in r.porcelain():
        if fmt == "v2":
            con.data(_v2(row))
            continue
        x, y = row.x, row.y
        if fmt == "short" and row.x != "?":
            x, y = con.style(x, fg="green"), con.style(y, fg="red")
        elif fmt == "short":
            x, y = con.style(x, fg="red"), con.style(y, fg="red")
        con.data(f"{x}{y} " + (f"{row.from_path} -> {row.path}" if row.from_path else row.path))


def _v2(row) -> str:
    if row.x == "?":
        return f"? {row.path}"
    xy = (row.x + row.y).replace(" ", ".")
    if row.x == "U":
        return f"u {xy} N... 100644 100644 100644 100644 {NO_OID} {NO_OID} {NO_OID} {row.path}"
    m_head = "000000" if row.x == "A" else "100644"
    m_index = "000000" if row.x == "D" else "100644"
    m_work = "000000" if row.y == "D" or (row.x == "D" and row.y == " ") else "100644"
    fields = f"{xy} N... {m_head} {m_index} {m_work} {row.head_oid or NO_OID} {row.index_oid or NO_OID}"
    if row.from_path:
        return f"2 {fields} R100 {row.path}\t{row.from_path}"
    return f"1 {fields} {row.path}"
