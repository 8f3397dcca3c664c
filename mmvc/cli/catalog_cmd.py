import click

from mmvc.cli.main import MmvcCommand, RichHelpMixin


class _Group(RichHelpMixin, click.Group):
    def command_summary(self, name: str) -> str:
        return self.commands[name].get_short_help_str(80)


@click.group("catalog", cls=_Group)
def command():
    """Inspect or regenerate the Lance catalog (derived from the object store and feature cache)."""


@command.command("status", cls=MmvcCommand)
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_command(as_json):
    """Rows, vectors and indexes of the catalog, and whether HEAD's items all have rows."""
    from mmvc.cli.render import emit_json
    from mmvc.ops.catalog import status
    from mmvc.repo import Repo

    s = status(Repo.discover())
    if as_json:
        emit_json(s)
        return
    if s.error:
        click.echo(f"catalog: unreadable ({s.error})")
        click.echo("run `mmvc catalog rebuild` to regenerate it", err=True)
        return
    if not s.exists:
        click.echo("catalog: none yet (the first commit writes it)")
    else:
        click.echo(f"catalog: {s.path} (format {s.format}, table version {s.table_version})")
        click.echo(f"rows:    {s.rows}  " + "  ".join(f"{m} {n}" for m, n in sorted(s.by_modality.items())))
        click.echo("vectors: " + "  ".join(f"{f} {n}" for f, n in s.vectors.items()))
        click.echo(f"indexes: {', '.join(s.indexes) or 'none'} (built past {s.index_threshold} rows per family)")
    click.echo(f"HEAD:    {s.head_items} items, {s.head_missing} without a row"
               + ("; run `mmvc catalog rebuild`" if s.head_missing else ""))


@command.command("rebuild", cls=MmvcCommand)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def rebuild_command(as_json):
    """Regenerate the catalog from every reachable version, its process reports and the feature cache."""
    from mmvc.cli.render import emit_json, progress_stages
    from mmvc.ops.catalog import rebuild
    from mmvc.repo import Repo

    with progress_stages(enabled=not as_json) as bar:
        r = rebuild(Repo.discover(), progress=bar)
    if as_json:
        emit_json(r)
        return
    click.echo(f"rebuilt the catalog from {r.commits} version(s): {r.rows} rows; vectors: "
               + ", ".join(f"{f} {n}" for f, n in r.vectors.items()))
    if r.without_vectors:
        click.echo(f"{r.without_vectors} passed row(s) have no vectors: the feature cache no longer holds them "
                   "(re-process those items to restore them)", err=True)
