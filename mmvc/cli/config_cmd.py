import click

from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("config", cls=MmvcCommand, examples=[
    ("mmvc config process.families.clip", "read a setting"),
    ("mmvc config process.families.clip false", "set one (the value is read as TOML)"),
])
@click.argument("key")
@click.argument("value", required=False)
@json_option("Print the value as JSON.")
@pass_console
def command(con, key, value, as_json):
    """Read KEY (e.g. process.families.clip) from .mmvc/config.toml, or set it to VALUE."""
    import json

    from mmvc.repo import Repo

    repo = Repo.discover()
    if value is not None:
        repo.set_config(key, value)
        return
    v = repo.get_config(key)
    con.data(json.dumps(v) if as_json or not isinstance(v, str) else v)
