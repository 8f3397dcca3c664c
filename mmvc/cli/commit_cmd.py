import click

from mmvc.cli.main import MmvcCommand


@click.command("commit", cls=MmvcCommand)
@click.option("-m", "--message", required=True, help="The commit message.")
@click.option("--allow-empty", is_flag=True, help="Record a commit even if nothing is staged.")
@click.option("-n", "--no-verify", is_flag=True, help="Skip the pre-commit and commit-msg hooks (never the process gate).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(message, allow_empty, no_verify, as_json):
    """Record the staged items as a new version (they cross the trust boundary here)."""
    from mmvc.cli.render import emit_json
    from mmvc.repo import Repo

    r = Repo.discover().commit(message, allow_empty=allow_empty, no_verify=no_verify)
    if as_json:
        emit_json(r)
        return
    where = r.branch.rsplit("/", 1)[-1] if r.branch else "detached HEAD"
    root = " (root-commit)" if not r.parent else ""
    click.echo(f"[{where}{root} {r.oid[:12]}] {r.message.splitlines()[0]}")
    mods = ", ".join(f"{n} {m}" for m, n in sorted(r.by_modality.items()))
    click.echo(f" {r.added} added, {r.modified} modified, {r.deleted} deleted" + (f" ({mods})" if mods else "") + f"; {r.gate}")
    if r.catalog_skipped:
        click.echo(" the catalog was not updated (pip install 'mmvc[catalog]', then `mmvc catalog rebuild` adds the rows)", err=True)
    if r.held:
        click.echo(f" {r.held} staged item(s) held back by the gate (duplicate or rejected): `mmvc report` says why", err=True)
    if r.hook_output:
        click.echo(r.hook_output.rstrip("\n"), err=True)
