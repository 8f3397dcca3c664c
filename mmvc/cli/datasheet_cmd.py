import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("datasheet", cls=MmvcCommand, examples=[
    ("mmvc datasheet v1 -o docs/datasheet", "a Markdown datasheet with plots for a version"),
])
@click.argument("rev", default="HEAD", shell_complete=complete.revisions)
@click.option("-o", "--output", "out", default="datasheet", type=complete.DIR, show_default=True, metavar="DIR", help="Folder for datasheet.md and its plots.")
@json_option("Print the datasheet's figures as JSON.")
@pass_console
def command(con, rev, out, as_json):
    """Write a Markdown datasheet of a version, with PNG plots of its composition and distributions."""
    from mmvc.repo import Repo

    r = Repo.discover().datasheet(rev, out)
    if as_json:
        con.json_value(r)
        return
    con.data(r.markdown)
    con.info(f"{len(r.plots)} plot(s) in {r.out}")
