import click

from mmvc.cli.main import MmvcCommand


@click.command("show", cls=MmvcCommand)
@click.argument("rev", default="HEAD")
@click.option("--json", "as_json", is_flag=True, help="Print the version as JSON.")
def command(rev, as_json):
    """Show a version: its commit, and item counts and bytes per modality."""
    from mmvc.cli.render import emit_json, fmt_time, human_bytes
    from mmvc.repo import Repo

    r = Repo.discover().show(rev)
    if as_json:
        emit_json(r)
        return
    click.echo(click.style(f"commit {r.oid}", fg="yellow"))
    click.echo(f"tree   {r.tree}")
    for p in r.parents:
        click.echo(f"parent {p}")
    click.echo(f"Author: {r.author['name']} <{r.author['email']}>")
    click.echo(f"Date:   {fmt_time(r.author['time'], r.author['tz'])}")
    click.echo(f"Gate:   {r.gate['mode']}")
    click.echo("")
    for line in r.message.rstrip("\n").splitlines():
        click.echo(f"    {line}")
    click.echo("")
    click.echo(f"{r.items} items, {human_bytes(r.bytes)}")
    for name, s in r.by_modality.items():
        click.echo(f"  {name:<6} {s['items']:>10} items  {human_bytes(s['bytes']):>10}")
