import click

from mmvc.cli import complete
from mmvc.cli.console import pass_console
from mmvc.cli.main import MmvcCommand


@click.command("mv", cls=MmvcCommand, examples=[
    ("mmvc mv raw/ images/", "rename a folder in the work tree and the index"),
])
@click.argument("src", type=complete.FILE)
@click.argument("dst", type=complete.FILE)
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing destination.")
@pass_console
def command(con, src, dst, force):
    """Rename a tracked file or folder in the work tree and the index."""
    from mmvc.repo import Repo

    r = Repo.discover().mv(src, dst, force=force)
    con.data(f"moved {len(r.moved)} item(s)")
