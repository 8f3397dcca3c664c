import click

from mmvc.cli.console import pass_console
from mmvc.cli.main import MmvcCommand


@click.command("restore", cls=MmvcCommand)
@click.argument("paths", nargs=-1, required=True)
@click.option("-S", "--staged", is_flag=True, help="Restore the index entries (unstage) from HEAD or --source.")
@click.option("-W", "--worktree", is_flag=True, default=None, help="Restore the work-tree files (default unless --staged).")
@click.option("-s", "--source", metavar="REV", help="Take the content from this version.")
@click.option("--literal", is_flag=True, help="Take PATHS as names, never as globs (like Git's :(literal)).")
@pass_console
def command(con, paths, staged, worktree, source, literal):
    """Restore work-tree files from the index, or index entries from HEAD."""
    from mmvc.repo import Repo

    r = Repo.discover().restore(list(paths), staged=staged, worktree=worktree or None, source=source, literal=literal)
    if r.staged:
        con.data(f"unstaged {len(r.staged)} item(s)")
    if r.worktree:
        con.data(f"restored {len(r.worktree)} file(s)")
