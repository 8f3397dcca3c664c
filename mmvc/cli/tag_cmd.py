import click

from mmvc.cli.main import MmvcCommand


@click.command("tag", cls=MmvcCommand)
@click.argument("name", required=False)
@click.argument("rev", required=False, default="HEAD")
@click.option("-m", "--message", help="Make an annotated tag with this message.")
@click.option("-l", "--list", "list_", is_flag=True, help="List tags.")
@click.option("-d", "--delete", is_flag=True, help="Delete tag NAME.")
@click.option("-f", "--force", is_flag=True, help="Replace an existing tag.")
@click.option("--json", "as_json", is_flag=True, help="List tags as JSON.")
def command(name, rev, message, list_, delete, force, as_json):
    """Tag version REV (default HEAD) as NAME; with no NAME (or -l), list tags."""
    from mmvc.cli.render import chatter, emit_json
    from mmvc.ops import tag as ops
    from mmvc.repo import Repo

    repo = Repo.discover()
    if delete:
        if not name:
            raise click.UsageError("name the tag to delete")
        t = ops.delete_tag(repo, name)
        chatter(f"Deleted tag {t.name} (was {t.target[:12]})")
        return
    if name and not list_:
        t = ops.create_tag(repo, name, rev, message=message, force=force)
        chatter(f"Tagged {t.target[:12]} as {t.name}" + (" (annotated)" if t.annotated else ""))
        return
    tags = ops.list_tags(repo)
    if as_json:
        emit_json(tags)
        return
    for t in tags:
        click.echo(t.name + (f"  {t.message.splitlines()[0]}" if t.annotated and t.message else ""))
