import click

from mmvc.cli.main import MmvcCommand


@click.command("datasheet", cls=MmvcCommand)
@click.argument("rev", default="HEAD")
@click.option("-o", "--output", "out", default="datasheet", show_default=True, metavar="DIR", help="Folder for datasheet.md and its plots.")
@click.option("--json", "as_json", is_flag=True, help="Print the datasheet's figures as JSON.")
def command(rev, out, as_json):
    """Write a Markdown datasheet of a version, with PNG plots of its composition and distributions."""
    from mmvc.cli.render import emit_json
    from mmvc.ops.datasheet import datasheet
    from mmvc.repo import Repo

    r = datasheet(Repo.discover(), rev, out)
    if as_json:
        emit_json(r)
        return
    click.echo(r.markdown)
    click.echo(f"{len(r.plots)} plot(s) in {r.out}", err=True)
