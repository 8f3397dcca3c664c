import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("fetch", cls=MmvcCommand, examples=[
    ("mmvc fetch", "what origin has and this repository lacks"),
    ("mmvc fetch backup -j 32", "another remote, with 32 parallel downloads"),
])
@click.argument("remote", required=False, shell_complete=complete.remotes)
@click.option("-j", "--jobs", default=8, show_default=True, help="Parallel downloads.")
@json_option()
@pass_console
def command(con, remote, jobs, as_json):
    """Download what REMOTE (default origin) has and this repository lacks; update refs/remotes/REMOTE/*."""
    from mmvc.repo import Repo

    repo = Repo.discover()
    with con.progress("fetching") as progress:
        r = repo.fetch(remote, progress=progress, jobs=jobs)
    if as_json:
        con.json_value(r)
        return
    render_fetch(con, r)


def render_fetch(con, r) -> None:
    from mmvc.cli.humanize import human_bytes
    from mmvc.core.layout import REMOTES, short_ref

    if not r.updates and not r.objects:
        con.data(f"Already up to date with {r.remote}")
        return
    con.data(f"Fetched {r.objects} object(s), {human_bytes(r.bytes)} from {r.url}: {r.commits} commit(s), {r.nodes} manifest node(s), "
             + ("blobs left on the remote (partial clone)" if r.partial else f"{r.blobs} blob(s)") + f" ({r.seconds:.1f}s)")
    for u in r.updates:
        name = u.ref[len(REMOTES):] if u.ref.startswith(REMOTES) else short_ref(u.ref)
        if u.status == "new":
            con.data(f" * [new]  {name} → {u.new[:12]}")
        elif u.status == "deleted":
            con.data(f" - [deleted]  {name}")
        elif u.status == "rejected":
            con.data(f" ! [rejected]  {name}: the local {u.ref.split('/')[1][:-1]} differs (kept)")
        else:
            con.data(f"   {u.old[:12]}..{u.new[:12]}  {name}")
