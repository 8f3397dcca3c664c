import click

from mmvc.cli.console import pass_console
from mmvc.cli.main import MmvcCommand


@click.command("init", cls=MmvcCommand, examples=[
    ("mmvc init", "a gated repository in the current folder"),
    ("mmvc init datasets/captions --ungated -b trunk", "a new folder whose commits skip the gate, first branch trunk"),
])
@click.argument("path", default=".", type=click.Path(file_okay=False))
@click.option("--ungated", is_flag=True, help="Commit without the curation gate (raw-zone storage); versions are marked ungated.")
@click.option("-b", "--branch", default="main", show_default=True, help="Name of the first branch.")
@pass_console
def command(con, path, ungated, branch):
    """Create an empty repository (a .mmvc/ folder) in PATH."""
    from mmvc.repo import Repo

    repo = Repo.init(path, ungated=ungated, branch=branch)
    mode = "ungated: commits skip the curation gate" if ungated else "gated: only processed, passing items enter a version"
    con.data(f"Initialized empty mmvc repository in {repo.dir} ({mode})")
