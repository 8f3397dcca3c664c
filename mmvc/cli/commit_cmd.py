import click

from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("commit", cls=MmvcCommand, examples=[
    ("mmvc commit -m 'coco captions v1'", "record what passed the gate"),
])
@click.option("-m", "--message", required=True, help="The commit message.")
@click.option("--allow-empty", is_flag=True, help="Record a commit even if nothing is staged.")
@click.option("-n", "--no-verify", is_flag=True, help="Skip the pre-commit and commit-msg hooks (never the process gate).")
@json_option()
@pass_console
def command(con, message, allow_empty, no_verify, as_json):
    """Record the staged items as a new version (they cross the trust boundary here)."""
    from mmvc.repo import Repo

    r = Repo.discover().commit(message, allow_empty=allow_empty, no_verify=no_verify)
    if as_json:
        con.json_value(r)
        return
    where = r.branch.rsplit("/", 1)[-1] if r.branch else "detached HEAD"
    root = " (root-commit)" if not r.parent else ""
    con.data(f"[{where}{root} {r.oid[:12]}] {r.message.splitlines()[0]}")
    mods = ", ".join(f"{n} {m}" for m, n in sorted(r.by_modality.items()))
    con.data(f" {r.added} added, {r.modified} modified, {r.deleted} deleted" + (f" ({mods})" if mods else "") + f"; {r.gate}")
    if r.catalog_skipped:
        con.warn(" the catalog was not updated (pip install 'mmvc[catalog]', then `mmvc catalog rebuild` adds the rows)")
    if r.held:
        con.warn(f" {r.held} staged item(s) held back by the gate (duplicate or rejected): `mmvc report` says why")
    if r.hook_output:
        con.info(r.hook_output.rstrip("\n"))
