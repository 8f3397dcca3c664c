import click

from mmvc.cli.main import MmvcCommand


@click.command("report", cls=MmvcCommand)
@click.option("--rev", metavar="REV", help="The report recorded in this version's commit.")
@click.option("--reason", "by_reason", is_flag=True, help="Counts per stage and reason instead of one line per item.")
@click.option("--all", "include_passed", is_flag=True, help="Include passed items.")
@click.option("--json", "as_json", is_flag=True, help="Print rows (or counts) as JSON.")
def command(rev, by_reason, include_passed, as_json):
    """Why each item was rejected or deduplicated (the failure dataset of a process run)."""
    from mmvc.cli.render import emit_json
    from mmvc.core.pathrules import display_path
    from mmvc.ops.report import report
    from mmvc.repo import Repo

    r = report(Repo.discover(), rev=rev, include_passed=include_passed)
    if as_json:
        emit_json(r.by_reason if by_reason else r.rows)
        return
    if by_reason:
        for k, n in r.by_reason.items():
            click.echo(f"{n:>8}  {k}")
        return
    for row in r.rows:
        why = f"duplicate of {row.duplicate_of}" if row.status == "duplicate" else f"{row.stage}/{row.reason}"
        detail = f"  ({row.detail})" if row.detail and row.status != "duplicate" else ""
        click.echo(f"{row.status:<9} {display_path(row.path)}: {why}{detail}")
