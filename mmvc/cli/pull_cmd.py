import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("pull", cls=MmvcCommand, examples=[
    ("mmvc pull", "fetch origin and merge the current branch's counterpart"),
    ("mmvc pull origin main -s theirs", "settle every conflict with the remote's side"),
])
@click.argument("remote", required=False, shell_complete=complete.remotes)
@click.argument("branch", required=False, shell_complete=complete.remote_branches)
@click.option("-s", "--strategy", "strategies", multiple=True, metavar="ours|theirs[:GLOB]",
              help="Settle merge conflicts on matching paths by taking one side (repeatable).")
@click.option("-j", "--jobs", default=8, show_default=True, help="Parallel downloads.")
@json_option()
@click.pass_context
@pass_console
def command(con, ctx, remote, branch, strategies, jobs, as_json):
    """Fetch from REMOTE (default origin) and merge its BRANCH (default: the current branch's name)."""
    from mmvc.cli.fetch_cmd import render_fetch
    from mmvc.cli.merge_cmd import render_merge
    from mmvc.errors import ExitCode
    from mmvc.repo import Repo

    repo = Repo.discover()
    with con.progress("fetching") as progress:
        r = repo.pull(remote, branch, progress=progress, jobs=jobs, strategies=strategies)
    if as_json:
        con.json_value(r)
    else:
        render_fetch(con, r.fetch)
        render_merge(con, r.merge, pulled=r.source.split("/", 2)[-1])
    if r.merge.status == "conflicts":
        ctx.exit(ExitCode.CONFLICT)
