import click

from mmvc.cli.main import MmvcCommand


@click.command("mv", cls=MmvcCommand)
@click.argument("src")
@click.argument("dst")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing destination.")
def command(src, dst, force):
    """Rename a tracked file or folder in the work tree and the index."""
    from mmvc.cli.render import chatter
    from mmvc.repo import Repo

    r = Repo.discover().mv(src, dst, force=force)
    chatter(f"moved {len(r.moved)} item(s)")
