import click

from mmvc.cli import complete
from mmvc.cli.console import pass_console
from mmvc.cli.main import MmvcCommand


@click.command("checkout", cls=MmvcCommand, examples=[
    ("mmvc checkout v1", "detach HEAD at a tagged version"),
    ("mmvc checkout main --modality text", "materialise only the text items"),
    ("mmvc checkout v1 -- captions/", "restore a folder from a version"),
])
@click.argument("rev", shell_complete=complete.revisions)
@click.argument("paths", nargs=-1, type=complete.FILE)
@click.option("-f", "--force", is_flag=True, help="Overwrite local changes.")
@click.option("--sparse", "sparse", multiple=True, metavar="GLOB", help="Materialise only items matching GLOB (repeatable).")
@click.option("--modality", "modalities", multiple=True, metavar="NAME", shell_complete=complete.modalities, help="Materialise only items of this modality (repeatable).")
@click.option("--no-sparse", is_flag=True, help="Materialise every item again.")
@pass_console
def command(con, rev, paths, force, sparse, modalities, no_sparse):
    """Check out version REV (a branch switches to it; anything else detaches HEAD).

    With `-- PATHS`, restore those paths from REV into the index and the work tree instead.
    """
    from mmvc.cli.switch_cmd import render_move
    from mmvc.repo import Repo

    r = Repo.discover().checkout(rev, paths=list(paths) or None, force=force, sparse=list(sparse) or None,
                                 modality=list(modalities) or None, no_sparse=no_sparse)
    if paths:
        con.data(f"Restored {r.written} path(s) from {rev}")
    else:
        render_move(con, r)
