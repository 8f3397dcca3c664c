import click

from mmvc.cli.main import MmvcCommand


@click.command("pull", cls=MmvcCommand)
@click.argument("remote", required=False)
@click.argument("branch", required=False)
@click.option("-s", "--strategy", "strategies", multiple=True, metavar="ours|theirs[:GLOB]",
              help="Settle merge conflicts on matching paths by taking one side (repeatable).")
@click.option("-j", "--jobs", default=8, show_default=True, help="Parallel downloads.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def command(ctx, remote, branch, strategies, jobs, as_json):
    """Fetch from REMOTE (default origin) and merge its BRANCH (default: the current branch's name)."""
    from mmvc.cli.fetch_cmd import _report
    from mmvc.cli.render import chatter, emit_json, human_bytes, progress_bar
    from mmvc.core.pathrules import display_path
    from mmvc.errors import ExitCode
    from mmvc.ops.pull import pull
    from mmvc.repo import Repo

    with progress_bar("fetching", enabled=not as_json) as progress:
        r = pull(Repo.discover(), remote, branch, progress=progress, jobs=jobs, strategies=strategies)
    if as_json:
        emit_json(r)
    else:
        _report(r.fetch, chatter, human_bytes)
        m = r.merge
        if m.status == "up-to-date":
            chatter("Already up to date.")
        elif m.status == "fast-forward":
            chatter(f"Fast-forward {(m.ours or '')[:12]}..{m.theirs[:12]}")
        elif m.status == "merged":
            chatter(f"Merged {r.source.split('/', 2)[-1]}: commit {m.commit[:12]} ({m.taken_from_theirs} item(s) taken from the remote)")
        elif m.status == "conflicts":
            click.echo(f"{len(m.conflicts)} conflict(s): the same path changed differently here and on the remote", err=True)
            for c in m.conflicts[:50]:
                click.echo(f"  both changed: {display_path(c.path)}", err=True)
            click.echo("hint: stage the version you want with `mmvc add` (or pull with --strategy ours|theirs[:GLOB]), "
                       "then `mmvc merge --continue`; `mmvc merge --abort` gives up", err=True)
    if r.merge.status == "conflicts":
        ctx.exit(ExitCode.CONFLICT)
