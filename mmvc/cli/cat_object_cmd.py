import click

from mmvc.cli.console import pass_console
from mmvc.cli.main import MmvcCommand


@click.command("cat-object", cls=MmvcCommand, examples=[
    ("mmvc cat-object -p 3f2a9c41", "a commit or manifest node, readable (a unique prefix of its id will do)"),
    ("mmvc cat-object 3f2a9c41 > asset.jpg", "a blob's raw bytes"),
])
@click.argument("oid")
@click.option("-t", "kind", is_flag=True, help="Print the kind the object declares (commit, tag, node, recipe, process-run, process-report, blob).")
@click.option("-s", "size", is_flag=True, help="Print the object's size in bytes.")
@click.option("-p", "pretty", is_flag=True, help="Pretty-print a manifest node or a JSON object (commit, tag, recipe, process run).")
@pass_console
def command(con, oid, kind, size, pretty):
    """Print a stored object's raw bytes (plumbing, for scripts)."""
    from mmvc.repo import Repo

    repo = Repo.discover()
    info = repo.cat_object(oid, with_data=not (kind or size))
    if kind:
        con.data(info.kind)
    elif size:
        con.data(str(info.size))
    elif pretty:
        con.json_value(repo.pretty_object(info))
    else:
        con.write_bytes(info.data)
