import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand

CONFLICTS_SHOWN = 50


def render_merge(con, r, pulled: str | None = None) -> None:
    """A merge's outcome; for conflicts, the paths (stdout) and how to settle them (stderr).
    ``pulled`` names the remote branch when the merge is the second half of a pull."""
    from mmvc.core.pathrules import display_path

    if r.status == "up-to-date":
        con.data("Already up to date.")
    elif r.status == "fast-forward":
        con.data(f"Fast-forward {(r.ours or '')[:12]}..{r.theirs[:12]}")
    elif r.status == "merged" and pulled:
        con.data(f"Merged {pulled}: commit {r.commit[:12]} ({r.taken_from_theirs} item(s) taken from the remote)")
    elif r.status == "merged":
        con.data(f"Merged {r.theirs[:12]} into {r.ours[:12]}: commit {r.commit[:12]} ({r.taken_from_theirs} item(s) taken from the other side)")
    elif r.status == "aborted":
        con.data("Merge aborted; index and work tree restored.")
    elif r.status == "conflicts":
        sides = "here and on the remote" if pulled else "on both sides"
        if r.conflicts:
            con.data(f"{len(r.conflicts)} conflict(s): the same path changed differently {sides}")
            for c in r.conflicts[:CONFLICTS_SHOWN]:
                con.data(f"  both changed: {display_path(c.path)}")
            if len(r.conflicts) > CONFLICTS_SHOWN:
                con.data(f"  … and {len(r.conflicts) - CONFLICTS_SHOWN} more (`--json` lists them all)")
        if r.curation:
            con.data(f"{len(r.curation)} curation conflict(s): duplicates of each other added {sides}; only one of each pair "
                     "may enter the version")
            for cc in r.curation[:CONFLICTS_SHOWN]:
                con.data(f"  {cc.tier} duplicates: ours {cc.ours} ≈ theirs {cc.theirs}")
            if len(r.curation) > CONFLICTS_SHOWN:
                con.data(f"  … and {len(r.curation) - CONFLICTS_SHOWN} more (`--json` lists them all)")
        todo = " and ".join(x for x in ("stage the version you want of each changed path (`mmvc add`)" if r.conflicts else "",
                                        "`mmvc rm` one item of each pair" if r.curation else "") if x)
        con.warn(f"{con.style('hint:', err=True, fg='yellow')} {todo}, then `mmvc merge --continue`; or take one side with "
                 "`mmvc merge --continue --strategy ours|theirs[:GLOB]`; `mmvc merge --abort` gives up")
    if r.gate == "ungated" and r.status in ("merged", "conflicts"):
        con.info("ungated repository: the two sides' items were not checked for duplicates of each other")


@click.command("merge", cls=MmvcCommand, examples=[
    ("mmvc merge mix-v2", "merge a branch into the current one"),
    ("mmvc merge mix-v2 -s 'theirs:captions/**'", "settle conflicts under captions/ with their side"),
    ("mmvc merge --continue", "commit the merge once its conflicts are settled"),
])
@click.argument("rev", required=False, shell_complete=complete.revisions)
@click.option("-s", "--strategy", "strategies", multiple=True, metavar="ours|theirs[:GLOB]",
              help="Settle conflicts on matching paths by taking one side (repeatable; first match wins).")
@click.option("-m", "--message", help="Message for the merge commit.")
@click.option("--no-ff", is_flag=True, help="Record a merge commit even when a fast-forward is possible.")
@click.option("--continue", "cont", is_flag=True, help="Commit a merge whose conflicts are settled.")
@click.option("--abort", is_flag=True, help="Give up the merge in progress and restore the prior state.")
@click.option("-n", "--no-verify", is_flag=True, help="Skip the pre-merge hook (never the process gate).")
@json_option("Print the result (and any conflicts) as JSON.")
@click.pass_context
@pass_console
def command(con, ctx, rev, strategies, message, no_ff, cont, abort, no_verify, as_json):
    """Merge REV into the current branch (fast-forward when possible, else three-way)."""
    from mmvc.errors import ExitCode
    from mmvc.repo import Repo

    repo = Repo.discover()
    if sum(bool(x) for x in (rev, cont, abort)) != 1:
        raise click.UsageError("give a revision to merge, or --continue, or --abort")
    if abort:
        r = repo.merge_abort()
    elif cont:
        r = repo.merge_continue(list(strategies), no_verify=no_verify)
    else:
        r = repo.merge(rev, list(strategies), message=message, no_verify=no_verify, no_ff=no_ff)
    if as_json:
        con.json_value(r)
    else:
        render_merge(con, r)
    if r.status == "conflicts":
        ctx.exit(ExitCode.CONFLICT)

