import click

from mmvc.cli.main import MmvcCommand


@click.command("branch", cls=MmvcCommand)
@click.argument("name", required=False)
@click.argument("start", required=False)
@click.option("-v", "--verbose", is_flag=True, help="Show each branch's commit and subject.")
@click.option("-d", "delete", is_flag=True, help="Delete a branch that is merged into HEAD.")
@click.option("-D", "force_delete", is_flag=True, help="Delete a branch even if it is not merged.")
@click.option("-m", "rename", is_flag=True, help="Rename branch NAME to START.")
@click.option("-f", "--force", is_flag=True, help="Move an existing branch to START.")
@click.option("--json", "as_json", is_flag=True, help="List branches as JSON.")
def command(name, start, verbose, delete, force_delete, rename, force, as_json):
    """List branches, or create NAME at START (default HEAD); -d/-D delete, -m rename."""
    from mmvc.cli.render import chatter, emit_json
    from mmvc.ops import branch as ops
    from mmvc.repo import Repo

    repo = Repo.discover()
    if delete or force_delete:
        if not name:
            raise click.UsageError("name the branch to delete")
        b = ops.delete_branch(repo, name, force=force_delete)
        chatter(f"Deleted branch {b.name} (was {b.oid[:12]})")
        return
    if rename:
        if not (name and start):
            raise click.UsageError("usage: mmvc branch -m OLD NEW")
        ops.rename_branch(repo, name, start)
        chatter(f"Renamed branch {name} to {start}")
        return
    if name:
        b = ops.create_branch(repo, name, start or "HEAD", force=force)
        chatter(f"Created branch {b.name} at {b.oid[:12]}")
        return
    branches = ops.list_branches(repo, verbose=verbose or as_json)
    if as_json:
        emit_json(branches)
        return
    for b in branches:
        mark = "* " if b.current else "  "
        line = mark + (click.style(b.name, fg="green") if b.current else b.name)
        if verbose:
            line += f"  {b.oid[:12]} {b.subject}"
        click.echo(line)
