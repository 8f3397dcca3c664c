import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("config", cls=MmvcCommand, examples=[
    ("mmvc config process.families.clip", "read a setting"),
    ("mmvc config process.families.clip false", "set one (the value is read as TOML)"),
    ("mmvc config --list", "every setting as KEY=VALUE"),
])
@click.argument("key", required=False, shell_complete=complete.config_keys)
@click.argument("value", required=False)
@click.option("-l", "--list", "list_", is_flag=True, help="List every setting as KEY=VALUE.")
@json_option("Print the value (with --list: every setting) as JSON.")
@pass_console
def command(con, key, value, list_, as_json):
    """Read KEY (e.g. process.families.clip) from .mmvc/config.toml, or set it to VALUE.

    Setting a value keeps the file's comments and layout."""
    import json

    from mmvc.repo import Repo

    if list_ == bool(key):
        raise click.UsageError("give a KEY, or --list" if not list_ else "--list takes no KEY")
    repo = Repo.discover()
    if list_:
        values = repo.list_config()
        if as_json:
            con.json_value(values)
            return
        for k, v in values.items():
            con.data(f"{k}={v if isinstance(v, str) else json.dumps(v)}")
        return
    if value is not None:
        repo.set_config(key, value)
        return
    v = repo.get_config(key)
    con.data(json.dumps(v) if as_json or not isinstance(v, str) else v)
