import click

from mmvc.cli.main import MmvcCommand


@click.command("cat-object", cls=MmvcCommand)
@click.argument("oid")
@click.option("-t", "kind", is_flag=True, help="Print the kind the object declares (commit, tag, node, recipe, process-run, process-report, blob).")
@click.option("-s", "size", is_flag=True, help="Print the object's size in bytes.")
@click.option("-p", "pretty", is_flag=True, help="Pretty-print a manifest node or a JSON object (commit, tag, recipe, process run).")
def command(oid, kind, size, pretty):
    """Print a stored object's raw bytes (plumbing, for scripts)."""
    import sys

    from mmvc.cli.render import emit_json
    from mmvc.ops.cat_object import cat_object
    from mmvc.ops.cat_object import pretty as pretty_view
    from mmvc.repo import Repo

    repo = Repo.discover()
    info = cat_object(repo, oid, with_data=not (kind or size))
    if kind:
        click.echo(info.kind)
    elif size:
        click.echo(info.size)
    elif pretty:
        emit_json(pretty_view(repo, info))
    else:
        sys.stdout.buffer.write(info.data)
