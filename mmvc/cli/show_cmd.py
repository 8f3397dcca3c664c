import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("show", cls=MmvcCommand, examples=[
    ("mmvc show", "HEAD's commit and its counts per modality"),
    ("mmvc show v1 --json", "a tagged version, as JSON"),
])
@click.argument("rev", default="HEAD", shell_complete=complete.revisions)
@json_option("Print the version as JSON.")
@pass_console
def command(con, rev, as_json):
    """Show a version: its commit, and item counts and bytes per modality."""
    from mmvc.cli.humanize import fmt_time, human_bytes
    from mmvc.repo import Repo

    r = Repo.discover().show(rev)
    if as_json:
        con.json_value(r)
        return
    out = con.data
    out(con.style(f"commit {r.oid}", fg="yellow"))
    out(f"tree   {r.tree}")
    for p in r.parents:
        out(f"parent {p}")
    out(f"Author: {r.author['name']} <{r.author['email']}>")
    out(f"Date:   {fmt_time(r.author['time'], r.author['tz'])}")
    out(f"Gate:   {r.gate['mode']}")
    out("")
    for line in r.message.rstrip("\n").splitlines():
        out(f"    {line}")
    out("")
    out(f"{r.items} items, {human_bytes(r.bytes)}")
    for name, s in r.by_modality.items():
        out(f"  {name:<6} {s['items']:>10} items  {human_bytes(s['bytes']):>10}")
