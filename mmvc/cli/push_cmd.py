import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("push", cls=MmvcCommand, examples=[
    ("mmvc push", "the current branch to origin"),
    ("mmvc push origin main v1 --recipes", "a branch, a tag and every recipe"),
])
@click.argument("remote", required=False, shell_complete=complete.remotes)
@click.argument("refs", nargs=-1, shell_complete=complete.refs_to_push)
@click.option("--all", "all_branches", is_flag=True, help="Push every branch, recipe, eval and training run.")
@click.option("--tags", is_flag=True, help="Push every tag.")
@click.option("--recipes", is_flag=True, help="Push every recipe (refs/recipes/*).")
@click.option("--evals", is_flag=True, help="Push every eval and training run (refs/evals/**, refs/runs/*) with the versions they name.")
@click.option("-f", "--force", is_flag=True, help="Overwrite the remote branch even when that drops its commits "
              "(still refused when it moved after this push read it).")
@click.option("-n", "--no-verify", is_flag=True, help="Skip the pre-push hook.")
@click.option("-j", "--jobs", default=8, show_default=True, help="Parallel uploads.")
@json_option()
@pass_console
def command(con, remote, refs, all_branches, tags, recipes, evals, force, no_verify, jobs, as_json):
    """Send the current branch (or REFS, --all, --tags, --recipes, --evals) and the objects the remote lacks to REMOTE (default origin)."""
    from mmvc.cli.humanize import human_bytes
    from mmvc.core.layout import EVALS
    from mmvc.repo import Repo

    repo = Repo.discover()
    with con.progress("pushing") as progress:
        r = repo.push(remote, list(refs), all_branches=all_branches, tags=tags, recipes=recipes, evals=evals, force=force,
                      progress=progress, jobs=jobs, no_verify=no_verify)
    if as_json:
        con.json_value(r)
        return
    if r.up_to_date:
        con.data(f"Everything up to date on {r.remote}")
        return
    con.data(f"Sent {r.objects} object(s) in {r.packs} pack(s) ({human_bytes(r.bytes)}) to {r.url}"
             + (f"; {r.already_there} were already there" if r.already_there else "") + f" ({r.seconds:.1f}s)")
    evals = [u for u in r.updates if u.ref.startswith(EVALS) and u.status == "new"]
    if evals:
        con.data(f" * [new]  {len(evals)} eval(s)")
    for u in r.updates:
        name = u.ref.split("/", 2)[-1]
        if u.ref.startswith(EVALS) and u.status == "new":
            continue
        if u.status == "new":
            con.data(f" * [new]  {name} → {u.new[:12]}")
        elif u.status != "up-to-date":
            con.data(f"   {u.old[:12]}..{u.new[:12]}  {name}" + (" (forced)" if u.status == "forced" else ""))
