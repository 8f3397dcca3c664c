import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("report", cls=MmvcCommand, examples=[
    ("mmvc report", "the staged run's rejected and duplicate items"),
    ("mmvc report --rev v1 --json", "the report of a committed version, as JSON"),
])
@click.option("--rev", metavar="REV", shell_complete=complete.revisions, help="The report recorded in this version's commit.")
@click.option("--reason", "by_reason", is_flag=True, help="Counts per stage and reason instead of one line per item.")
@click.option("--all", "include_passed", is_flag=True, help="Include passed items.")
@json_option("Print rows (or counts) as JSON.")
@pass_console
def command(con, rev, by_reason, include_passed, as_json):
    """Why each item was rejected or deduplicated (the failure dataset of a process run), and
    the curation conflicts of a merge in progress."""
    from mmvc.core.pathrules import display_path
    from mmvc.repo import Repo

    r = Repo.discover().report(rev=rev, include_passed=include_passed)
    if as_json:
        con.json_value(r.by_reason if by_reason else r.rows)
        return
    if by_reason:
        for k, n in r.by_reason.items():
            con.data(f"{n:>8}  {k}")
        return
    for row in r.rows:
        if row.status == "conflict":
            click.echo(f"{row.status:<9} {display_path(row.path)}: {row.stage} duplicate of {row.duplicate_of}, both brought by the merge in progress")
            continue
        if row.status == "passed":
            click.echo(f"{row.status:<9} {display_path(row.path)}" + (f": {row.kept}" if row.kept else ""))
            continue
        why = f"duplicate of {row.duplicate_of}" if row.status == "duplicate" else f"{row.stage}/{row.reason}"
        detail = f"  ({row.detail})" if row.detail and row.status != "duplicate" else ""
        kept = f"  (kept: {row.kept})" if row.kept and row.status == "duplicate" else ""
        con.data(f"{row.status:<9} {display_path(row.path)}: {why}{detail}{kept}")
