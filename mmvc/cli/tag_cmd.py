import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("tag", cls=MmvcCommand, examples=[
    ("mmvc tag v1", "tag HEAD"),
    ("mmvc tag v1-rc main~2 -m 'release candidate'", "an annotated tag on an older version"),
    ("mmvc tag -l", "list tags"),
])
@click.argument("name", required=False, shell_complete=complete.tags)
@click.argument("rev", required=False, default="HEAD", shell_complete=complete.revisions)
@click.option("-m", "--message", help="Make an annotated tag with this message.")
@click.option("-l", "--list", "list_", is_flag=True, help="List tags.")
@click.option("-d", "--delete", is_flag=True, help="Delete tag NAME.")
@click.option("-f", "--force", is_flag=True, help="Replace an existing tag.")
@json_option("List tags as JSON.")
@pass_console
def command(con, name, rev, message, list_, delete, force, as_json):
    """Tag version REV (default HEAD) as NAME; with no NAME (or -l), list tags."""
    from mmvc.repo import Repo

    repo = Repo.discover()
    if delete:
        if not name:
            raise click.UsageError("name the tag to delete")
        t = repo.delete_tag(name)
        con.data(f"Deleted tag {t.name} (was {t.target[:12]})")
        return
    if name and not list_:
        t = repo.tag(name, rev, message=message, force=force)
        con.data(f"Tagged {t.target[:12]} as {t.name}" + (" (annotated)" if t.annotated else ""))
        return
    tags = repo.list_tags()
    if as_json:
        con.json_value(tags)
        return
    for t in tags:
        con.data(t.name + (f"  {t.message.splitlines()[0]}" if t.annotated and t.message else ""))
