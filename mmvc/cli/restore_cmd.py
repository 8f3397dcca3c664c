import click

from mmvc.cli import complete
from mmvc.cli.console import pass_console
from mmvc.cli.main import MmvcCommand


@click.command("restore", cls=MmvcCommand, examples=[
    ("mmvc restore images/cat.jpg", "undo a change to a file (from the index)"),
    ("mmvc restore --staged images/", "unstage a folder"),
    ("mmvc restore --source v1 captions.txt", "a file as it was in a version"),
])
@click.argument("paths", nargs=-1, required=True, type=complete.FILE)
@click.option("-S", "--staged", is_flag=True, help="Restore the index entries (unstage) from HEAD or --source.")
@click.option("-W", "--worktree", is_flag=True, default=None, help="Restore the work-tree files (default unless --staged).")
@click.option("-s", "--source", metavar="REV", shell_complete=complete.revisions, help="Take the content from this version.")
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
