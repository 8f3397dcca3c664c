import click

from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand

SHOW = 20


def limit_or_all(verbose: bool):
    return None if verbose else SHOW


@click.command("status", cls=MmvcCommand)
@json_option("Print the status as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="List every path instead of the first 20 per section.")
@click.option("--untracked/--no-untracked", default=True, help="Look for untracked files.")
@pass_console
def command(con, as_json, verbose, untracked):
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
            out(style(f"    {label}{display_path(c.path)}", fg=color))
        if limit is not None and len(changes) > limit:
            out(f"    … and {len(changes) - limit} more (-v lists all)")
    if r.clean:
        out("nothing to commit, working tree clean")
