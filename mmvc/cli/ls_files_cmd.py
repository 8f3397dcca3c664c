import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("ls-files", cls=MmvcCommand, examples=[
    ("mmvc ls-files -l", "the index, with hashes, sizes and modalities"),
    ("mmvc ls-files v1 --prefix images/ --json", "a version's items under a folder, as JSON"),
])
@click.argument("rev", required=False, shell_complete=complete.revisions)
@click.option("--prefix", default="", help="Only items whose path starts with this.")
@click.option("-l", "--long", "long_", is_flag=True, help="Also print id, size and modality.")
@json_option("Print a JSON array of items.")
@pass_console
def command(con, rev, prefix, long_, as_json):
    """List the items of the index, or of version REV, sorted by path."""
    from mmvc.core.modality import modality_name
    from mmvc.repo import Repo

    entries = Repo.discover().ls_files(rev, prefix)
    if as_json:
        import json

        con.json_stream({"path": e.path, "oid": e.oid, "size": e.size, "modality": modality_name(e.modality),
                         "meta": json.loads(e.meta) if e.meta else None} for e in entries)
        return
    from mmvc.core.pathrules import display_path

    write = con.write
    for e in entries:
        write(f"{e.oid} {e.size:>12} {modality_name(e.modality):<6} {display_path(e.path)}\n" if long_ else display_path(e.path) + "\n")
