import click

from mmvc.cli.main import MmvcCommand


@click.command("merge", cls=MmvcCommand)
@click.argument("rev", required=False)
@click.option("-s", "--strategy", "strategies", multiple=True, metavar="ours|theirs[:GLOB]",
              help="Settle conflicts on matching paths by taking one side (repeatable; first match wins).")
@click.option("-m", "--message", help="Message for the merge commit.")
@click.option("--no-ff", is_flag=True, help="Record a merge commit even when a fast-forward is possible.")
@click.option("--continue", "cont", is_flag=True, help="Commit a merge whose conflicts are settled.")
@click.option("--abort", is_flag=True, help="Give up the merge in progress and restore the prior state.")
@click.option("-n", "--no-verify", is_flag=True, help="Skip the pre-merge hook (never the process gate).")
@click.option("--json", "as_json", is_flag=True, help="Print the result (and any conflicts) as JSON.")
@click.pass_context
def command(ctx, rev, strategies, message, no_ff, cont, abort, no_verify, as_json):
    """Merge REV into the current branch (fast-forward when possible, else three-way)."""
    from mmvc.cli.render import chatter, emit_json
    from mmvc.core.pathrules import display_path
    from mmvc.errors import ExitCode
    from mmvc.ops import merge as ops
    from mmvc.repo import Repo

    repo = Repo.discover()
    if sum(bool(x) for x in (rev, cont, abort)) != 1:
        raise click.UsageError("give a revision to merge, or --continue, or --abort")
    if abort:
        r = ops.merge_abort(repo)
    elif cont:
        r = ops.merge_continue(repo, list(strategies), no_verify=no_verify)
    else:
        r = ops.merge(repo, rev, list(strategies), message=message, no_verify=no_verify, no_ff=no_ff)
    if as_json:
        emit_json(r)
    elif r.status == "up-to-date":
        chatter("Already up to date.")
    elif r.status == "fast-forward":
        chatter(f"Fast-forward {r.ours[:12]}..{r.theirs[:12]}")
    elif r.status == "merged":
        chatter(f"Merged {r.theirs[:12]} into {r.ours[:12]}: commit {r.commit[:12]} ({r.taken_from_theirs} item(s) taken from the other side)")
    elif r.status == "aborted":
        chatter("Merge aborted; index and work tree restored.")
    if r.status == "conflicts":
        if not as_json:
            click.echo(f"{len(r.conflicts)} conflict(s): the same path changed differently on both sides", err=True)
            for c in r.conflicts[:50]:
                click.echo(f"  both changed: {display_path(c.path)}", err=True)
            click.echo("hint: stage the version you want with `mmvc add` (or use --strategy ours|theirs[:GLOB]), "
                       "then `mmvc merge --continue`; `mmvc merge --abort` gives up", err=True)
        ctx.exit(ExitCode.CONFLICT)
