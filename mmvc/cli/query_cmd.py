import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("query", cls=MmvcCommand, examples=[
    ('mmvc query --where "modality = \'audio\' AND duration_s > 10" --limit 20', "a table of matching rows"),
    ("mmvc query --rev v1 --format parquet -o v1.parquet", "a version's whole catalog as a Parquet file"),
])
@click.option("--where", metavar="FILTER", help="SQL-like filter over catalog columns, e.g. \"modality = 'audio' AND duration_s > 10\".")
@click.option("--rev", default="HEAD", show_default=True, metavar="REV", shell_complete=complete.revisions, help="Query this version.")
@click.option("--columns", metavar="COLS", help="Comma-separated columns (`all` for every column, vectors included).")
@click.option("--limit", type=int, metavar="N", help="At most N rows.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "jsonl", "parquet", "csv"]), default="table", show_default=True,
              help="Output format; parquet needs -o.")
@click.option("-o", "--output", metavar="FILE", type=complete.FILE, help="Write to FILE instead of stdout.")
@json_option("Same as --format json.")
@pass_console
def command(con, where, rev, columns, limit, fmt, output, as_json):
    """Rows of a version's catalog that match a filter: one per item, keyed by item key."""
    from mmvc.repo import Repo

    r = Repo.discover().query(rev=rev, where=where, columns=columns, limit=limit)
    _write(con, r, "json" if as_json else fmt, output)
    if output or fmt == "table":
        con.info(f"{r.num_rows} of {r.total} matching item(s) of {rev}")


def _write(con, r, fmt: str, output: str | None) -> None:
    if fmt == "parquet":
        if not output:
            raise click.UsageError("--format parquet needs -o FILE")
        r.write_parquet(output)
        return
    if fmt == "table" and not output:
        from rich.table import Table
        from rich.text import Text

        # columns with no value at all are left out of the on-screen table (not of other formats)
        shown = [c for c in r.table.column_names if c == "key" or r.table.column(c).null_count < r.table.num_rows]
        t = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        for c in shown:
            t.add_column(c, overflow="fold", no_wrap=c == "key", min_width=min(len(c), 8))
        for row in r.records():
            t.add_row(*(Text("" if row[c] is None else (row[c][:12] if c in ("oid", "row_id", "item_id") else _short(row[c])))
                        for c in shown))
        rc = con.rich()
        if con.to_terminal:
            rc.print(t)
            return
        rc.width = 1 << 20  # piped or redirected: one line per row however wide, for grep and cut
        with rc.capture() as captured:
            rc.print(t)
        for line in captured.get().splitlines():
            con.data(line.rstrip())
        return
    out = open(output, "w", encoding="utf-8", newline="") if output else con
    try:
        if fmt == "csv" or fmt == "table":
            import csv

            w = csv.writer(out)
            w.writerow(r.table.column_names)
            for row in r.records():
                w.writerow(["" if v is None else v for v in row.values()])
        elif fmt == "jsonl":
            import json

            for row in r.records():
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        elif output:
            import json

            json.dump(r.records(), out, ensure_ascii=False, indent=2)
            out.write("\n")
        else:
            con.json_stream(r.records())
    finally:
        if output:
            out.close()


def _short(v) -> str:
    if isinstance(v, list):
        return f"[{len(v)} values]"
    if isinstance(v, float):
        return f"{v:g}"
    s = str(v)
    return s if len(s) <= 60 else s[:57] + "..."
