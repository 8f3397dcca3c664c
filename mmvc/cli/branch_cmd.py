import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("branch", cls=MmvcCommand, examples=[
    ("mmvc branch -v", "every branch with its tip's subject"),
    ("mmvc branch mix-v2 v1", "a new branch at a tag (copies no bytes)"),
    ("mmvc branch -d mix-v2", "delete a merged branch"),
    ("mmvc branch --show-current", "the current branch's name (nothing when HEAD is detached)"),
])
@click.argument("name", required=False, shell_complete=complete.branches)
@click.argument("start", required=False, shell_complete=complete.revisions)
@click.option("-v", "--verbose", is_flag=True, help="Show each branch's commit and subject.")
@click.option("-d", "delete", is_flag=True, help="Delete a branch that is merged into HEAD.")
@click.option("-D", "force_delete", is_flag=True, help="Delete a branch even if it is not merged.")
@click.option("-m", "rename", is_flag=True, help="Rename branch NAME to START.")
@click.option("-f", "--force", is_flag=True, help="Move an existing branch to START.")
@click.option("--show-current", is_flag=True, help="Print the current branch's name (nothing when HEAD is detached).")
@json_option("List branches as JSON.")
@pass_console
def command(con, name, start, verbose, delete, force_delete, rename, force, show_current, as_json):
    """List branches, or create NAME at START (default HEAD); -d/-D delete, -m rename."""
    from mmvc.repo import Repo

    repo = Repo.discover()
    if show_current:
        branch = repo.head()[0]
        if branch:
            con.data(branch.removeprefix("refs/heads/"))
        return
    if delete or force_delete:
        if not name:
            raise click.UsageError("name the branch to delete")
        b = repo.delete_branch(name, force=force_delete)
        con.data(f"Deleted branch {b.name} (was {b.oid[:12]})")
        return
    if rename:
        if not (name and start):
            raise click.UsageError("usage: mmvc branch -m OLD NEW")
        repo.rename_branch(name, start)
        con.data(f"Renamed branch {name} to {start}")
        return
    if name:
        b = repo.branch(name, start or "HEAD", force=force)
        con.data(f"Created branch {b.name} at {b.oid[:12]}")
        return
    branches = repo.list_branches(verbose=verbose or as_json)
    if as_json:
        con.json_value(branches)
        return
    for b in branches:
        mark = "* " if b.current else "  "
        line = mark + (con.style(b.name, fg="green") if b.current else b.name)
        if verbose:
            line += f"  {b.oid[:12]} {b.subject}"
        con.data(line)
