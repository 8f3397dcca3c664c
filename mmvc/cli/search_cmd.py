import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("search", cls=MmvcCommand, examples=[
    ("mmvc search 'a dog on a beach' -k 5", "the five nearest items per embedding family"),
    ("mmvc search --image query.jpg --modality image --where 'width >= 512'", "query by example, with a prefilter"),
])
@click.argument("query", required=False)
@click.option("--image", metavar="FILE", type=complete.FILE, help="Query by example: the items nearest to this image (clip family).")
@click.option("--text-file", metavar="FILE", type=complete.FILE, help="Read the text query from a file.")
@click.option("--rev", default="HEAD", show_default=True, metavar="REV", shell_complete=complete.revisions, help="Search this version.")
@click.option("--modality", type=click.Choice(["text", "image", "video", "audio"]), help="Only this modality (and so one family).")
@click.option("-k", "k", default=10, show_default=True, type=int, help="Results per family.")
@click.option("--where", metavar="FILTER", help="SQL-like prefilter over catalog columns, e.g. \"width >= 512 AND license = 'cc-by-4.0'\".")
@click.option("--columns", metavar="COLS", help="Comma-separated catalog columns to show with each hit.")
@click.option("--allow-ungated", is_flag=True, help="Search a version whose items never passed `mmvc process`.")
@json_option("Print the hits as JSON.")
@pass_console
def command(con, query, image, text_file, rev, modality, k, where, columns, allow_ungated, as_json):
    """Find the items of a version nearest to a text or an example; results per embedding family."""
    from mmvc.core.pathrules import display_path
    from mmvc.repo import Repo

    r = Repo.discover().search(query=query, image=image, text_file=text_file, rev=rev, modality=modality, k=k, where=where,
                               allow_ungated=allow_ungated, columns=columns)
    if as_json:
        con.json_value(r)
        return
    for fam in r.families:
        con.info(con.style(f"{fam.family} family ({fam.column}{', ' + fam.model if fam.model else ''})", err=True, bold=True))
        if fam.note:
            con.info(f"  {fam.note}")
        for i, h in enumerate(fam.hits, 1):
            extra = "  ".join(f"{c}={v}" for c, v in h.row.items() if v is not None and c not in ("caption", "transcript"))
            con.data(f"{i:>3}  {h.score:.4f}  {h.modality:<5}  {display_path(h.key)}" + (f"  {extra}" if extra else ""))
