import click

from mmvc.cli import complete
from mmvc.cli.console import pass_console
from mmvc.cli.main import MmvcCommand


def render_move(con, r) -> None:
    where = f"branch {r.branch.split('/', 2)[-1]!r}" if r.branch else f"detached HEAD at {r.target[:12]}"
    verb = "Switched to a new" if r.created_branch else "Switched to"
    extra = f", {r.sparse_skipped} left out by the sparse filter" if r.sparse_skipped else ""
    con.data(f"{verb} {where} ({r.written} written, {r.removed} removed{extra})")


@click.command("switch", cls=MmvcCommand, examples=[
    ("mmvc switch mix-v2", "make a branch current"),
    ("mmvc switch -c fix-captions", "create a branch at HEAD and switch to it"),
    ("mmvc switch -", "back to the previous branch"),
])
@click.argument("branch", shell_complete=complete.branch_or_revision)
@click.argument("start", required=False, shell_complete=complete.revisions)
@click.option("-c", "--create", is_flag=True, help="Create BRANCH at START (default HEAD) and switch to it.")
@click.option("-f", "--force", is_flag=True, help="Overwrite local changes to the files that differ.")
@click.option("--detach", is_flag=True, help="Detach HEAD at BRANCH's commit instead.")
@pass_console
def command(con, branch, start, create, force, detach):
    """Switch to BRANCH ('-' is the previous one), updating only the files that differ."""
    from mmvc.repo import Repo

    render_move(con, Repo.discover().switch(branch, create=create, start=start, force=force, detach=detach))
