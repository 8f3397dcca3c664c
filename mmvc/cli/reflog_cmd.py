import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("reflog", cls=MmvcCommand, examples=[
    ("mmvc reflog", "where HEAD has pointed, newest first"),
    ("mmvc reflog main -n 5", "the last five moves of a branch"),
])
@click.argument("ref", default="HEAD", shell_complete=complete.revisions)
@click.option("-n", "--max-count", type=click.IntRange(0), help="Show at most N entries.")
@json_option("Print entries as JSON.")
@pass_console
def command(con, ref, max_count, as_json):
    """Show where REF (default HEAD) has pointed, newest first."""
    from mmvc.repo import Repo

    entries = Repo.discover().reflog(ref)[:max_count]
    if as_json:
        con.json_value(entries)
        return
    for i, e in enumerate(entries):
        con.data(f"{con.style(e['new'][:12], fg='yellow')} {ref}@{{{i}}}: {e['message']}")
