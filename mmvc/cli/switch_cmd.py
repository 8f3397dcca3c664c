import click

from mmvc.cli.main import MmvcCommand


def render_move(r) -> None:
    from mmvc.cli.render import chatter

    where = f"branch {r.branch.split('/', 2)[-1]!r}" if r.branch else f"detached HEAD at {r.target[:12]}"
    verb = "Switched to a new" if r.created_branch else "Switched to"
    extra = f", {r.sparse_skipped} left out by the sparse filter" if r.sparse_skipped else ""
    chatter(f"{verb} {where} ({r.written} written, {r.removed} removed{extra})")


@click.command("switch", cls=MmvcCommand)
@click.argument("branch")
@click.argument("start", required=False)
@click.option("-c", "--create", is_flag=True, help="Create BRANCH at START (default HEAD) and switch to it.")
@click.option("-f", "--force", is_flag=True, help="Overwrite local changes to the files that differ.")
@click.option("--detach", is_flag=True, help="Detach HEAD at BRANCH's commit instead.")
def command(branch, start, create, force, detach):
    """Switch to BRANCH ('-' is the previous one), updating only the files that differ."""
    from mmvc.ops.checkout import switch
    from mmvc.repo import Repo

    render_move(switch(Repo.discover(), branch, create=create, start=start, force=force, detach=detach))
