import click

from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand, MmvcSubgroup


@click.group("catalog", cls=MmvcSubgroup, examples=[
    ("mmvc catalog status --json", "the catalog's state as JSON"),
])
def command():
    """Inspect or regenerate the Lance catalog (derived from the object store and feature cache)."""


@command.command("status", cls=MmvcCommand, examples=[
    ("mmvc catalog status", "rows, vectors and indexes, and HEAD's items without a row"),
])
@json_option("Print the status as JSON.")
@pass_console
def status_command(con, as_json):
    """Rows, vectors and indexes of the catalog, and whether HEAD's items all have rows."""
    from mmvc.repo import Repo

    s = Repo.discover().catalog_status()
    if as_json:
        con.json_value(s)
        return
    if s.error:
        con.data(f"catalog: unreadable ({s.error})")
        con.info("run `mmvc catalog rebuild` to regenerate it")
        return
    if not s.exists:
        con.data("catalog: none yet (the first commit writes it)")
    else:
        con.data(f"catalog: {s.path} (format {s.format}, table version {s.table_version})")
        con.data(f"rows:    {s.rows}  " + "  ".join(f"{m} {n}" for m, n in sorted(s.by_modality.items())))
        con.data("vectors: " + "  ".join(f"{f} {n}" for f, n in s.vectors.items()))
        con.data(f"indexes: {', '.join(s.indexes) or 'none'} (built past {s.index_threshold} rows per family)")
    con.data(f"HEAD:    {s.head_items} items, {s.head_missing} without a row"
             + ("; run `mmvc catalog rebuild`" if s.head_missing else ""))


@command.command("rebuild", cls=MmvcCommand, examples=[
    ("mmvc catalog rebuild", "regenerate the catalog from every reachable version"),
])
@json_option()
@pass_console
def rebuild_command(con, as_json):
    """Regenerate the catalog from every reachable version, its process reports and the feature cache."""
    from mmvc.repo import Repo

    repo = Repo.discover()
    with con.stages() as bar:
        r = repo.rebuild_catalog(progress=bar)
    if as_json:
        con.json_value(r)
        return
    con.data(f"rebuilt the catalog from {r.commits} version(s): {r.rows} rows; vectors: "
             + ", ".join(f"{f} {n}" for f, n in r.vectors.items()) + f"; dedup index: {r.dedup_rows} rows")
    if r.without_vectors:
        con.warn(f"{r.without_vectors} passed row(s) have no vectors: the feature cache no longer holds them "
                 "(re-process those items to restore them)")
