import click

from mmvc.cli import complete
from mmvc.cli.console import pass_console
from mmvc.cli.main import MmvcCommand


@click.command("rm", cls=MmvcCommand, examples=[
    ("mmvc rm images/cat.jpg", "untrack a file and delete it"),
    ("mmvc rm -r --cached scratch/", "untrack a folder, keeping its files"),
])
@click.argument("paths", nargs=-1, required=True, type=complete.FILE)
@click.option("--cached", is_flag=True, help="Only unstage; keep the files in the work tree.")
@click.option("-r", "recursive", is_flag=True, help="Remove folders recursively.")
@click.option("-f", "--force", is_flag=True, help="Delete files even if they have unstaged changes.")
@click.option("--literal", is_flag=True, help="Take PATHS as names, never as globs (like Git's :(literal)).")
@pass_console
def command(con, paths, cached, recursive, force, literal):
    """Stop tracking items and delete their files."""
    from mmvc.core.pathrules import display_path
    from mmvc.repo import Repo

    r = Repo.discover().rm(list(paths), cached=cached, recursive=recursive, force=force, literal=literal)
    for k in r.removed:
        con.data(f"rm '{display_path(k)}'")
