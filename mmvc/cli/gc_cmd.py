import click

from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("gc", cls=MmvcCommand, examples=[
    ("mmvc gc", "remove unreachable objects older than two weeks and repack"),
    ("mmvc gc --prune now --dry-run", "say what an immediate prune would remove"),
])
@click.option("--prune", "prune", metavar="DATE",
              help="Remove unreachable objects older than DATE: 2.weeks.ago (default), 3.days.ago, now, never, or an ISO date.")
@click.option("-n", "--dry-run", is_flag=True, help="Say what would be removed and repacked; change nothing.")
@json_option()
@pass_console
def command(con, prune, dry_run, as_json):
    """Remove unreachable objects past the grace period and fold all packs into one.

    Reachable means named by a ref, HEAD, a reflog, MERGE_HEAD/ORIG_HEAD or the index. Objects
    younger than the grace period are kept even when unreachable, so a concurrent `add` is
    never robbed. A kill at any moment leaves every reachable object readable."""
    from mmvc.cli.humanize import human_bytes
    from mmvc.repo import Repo

    repo = Repo.discover()
    with con.progress("repacking", unit_bytes=False) as progress:
        r = repo.gc(prune=prune, dry_run=dry_run, progress=progress)
    if as_json:
        con.json_value(r)
        return
    out = con.data
    would = "would remove" if r.dry_run else "removed"
    since = "never pruned" if r.cutoff is None else f"older than {r.prune}"
    out(f"{r.reachable} reachable objects; {would} {r.pruned} unreachable ({human_bytes(r.pruned_bytes)}, {since})"
        + (f"; kept {r.kept_young} younger ones" if r.kept_young else ""))
    out(f"packs: {r.packs_before} → {r.packs_after}" + (f" ({r.packed} objects)" if r.packed else "")
        + f"; loose objects: {r.loose_before} → {r.loose_after}" + (f" ({r.loose_packed} packed)" if r.loose_packed else ""))
    if r.leftovers_removed or r.leftovers_kept:
        out(f"temp files: {would} {r.leftovers_removed}" + (f", kept {r.leftovers_kept} younger ones" if r.leftovers_kept else ""))
    if r.dropped_corrupt:
        out(con.style(f"dropped {r.dropped_corrupt} unreachable object(s) with no intact copy", fg="yellow"))
    if r.missing:
        con.warn(con.style(f"warning: {r.missing} reachable object(s) are missing or corrupt; run `mmvc fsck`", err=True, fg="yellow"))
    out(f"{'would free' if r.dry_run else 'freed'} {human_bytes(max(r.bytes_freed, 0))}"
        + (f" (grew by {human_bytes(-r.bytes_freed)})" if r.bytes_freed < 0 else "") + f" in {r.seconds:.2f}s")
