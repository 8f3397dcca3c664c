import click

from mmvc.cli.main import MmvcCommand


@click.command("config", cls=MmvcCommand)
@click.argument("key")
@click.argument("value", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the value as JSON.")
def command(key, value, as_json):
    """Read KEY (e.g. process.families.clip) from .mmvc/config.toml, or set it to VALUE."""
    import json

    from mmvc.ops.config import get_config, set_config
    from mmvc.repo import Repo

    repo = Repo.discover()
    v = set_config(repo, key, value) if value is not None else get_config(repo, key)
    if value is None:
        click.echo(json.dumps(v) if as_json or not isinstance(v, str) else v)
