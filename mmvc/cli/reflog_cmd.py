import click

from mmvc.cli.main import MmvcCommand


@click.command("reflog", cls=MmvcCommand)
@click.argument("ref", default="HEAD")
@click.option("-n", "--max-count", type=click.IntRange(0), help="Show at most N entries.")
@click.option("--json", "as_json", is_flag=True, help="Print entries as JSON.")
def command(ref, max_count, as_json):
    """Show where REF (default HEAD) has pointed, newest first."""
    from mmvc.cli.render import emit_json
    from mmvc.ops.reflog import reflog
    from mmvc.repo import Repo

    entries = reflog(Repo.discover(), ref)[:max_count]
    if as_json:
        emit_json(entries)
        return
    for i, e in enumerate(entries):
        click.echo(f"{click.style(e['new'][:12], fg='yellow')} {ref}@{{{i}}}: {e['message']}")
