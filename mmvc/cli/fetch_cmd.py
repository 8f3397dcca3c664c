import click

from mmvc.cli.main import MmvcCommand


@click.command("fetch", cls=MmvcCommand)
@click.argument("remote", required=False)
@click.option("-j", "--jobs", default=8, show_default=True, help="Parallel downloads.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(remote, jobs, as_json):
    """Download what REMOTE (default origin) has and this repository lacks; update refs/remotes/REMOTE/*."""
    from mmvc.cli.render import chatter, emit_json, human_bytes, progress_bar
    from mmvc.ops.fetch import fetch
    from mmvc.repo import Repo

    with progress_bar("fetching", enabled=not as_json) as progress:
        r = fetch(Repo.discover(), remote, progress=progress, jobs=jobs)
    if as_json:
        emit_json(r)
        return
    _report(r, chatter, human_bytes)


def _report(r, chatter, human_bytes):
    from mmvc.core.layout import REMOTES, short_ref

    if not r.updates and not r.objects:
        chatter(f"Already up to date with {r.remote}")
        return
    chatter(f"Fetched {r.objects} object(s), {human_bytes(r.bytes)} from {r.url}: {r.commits} commit(s), {r.nodes} manifest node(s), "
            + ("blobs left on the remote (partial clone)" if r.partial else f"{r.blobs} blob(s)") + f" ({r.seconds:.1f}s)")
    for u in r.updates:
        name = u.ref[len(REMOTES):] if u.ref.startswith(REMOTES) else short_ref(u.ref)
        if u.status == "new":
            chatter(f" * [new]  {name} → {u.new[:12]}")
        elif u.status == "deleted":
            chatter(f" - [deleted]  {name}")
        elif u.status == "rejected":
            chatter(f" ! [rejected]  {name}: the local {u.ref.split('/')[1][:-1]} differs (kept)")
        else:
            chatter(f"   {u.old[:12]}..{u.new[:12]}  {name}")
