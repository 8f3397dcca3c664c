import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand


@click.command("rev-parse", cls=MmvcCommand, examples=[
    ("mmvc rev-parse HEAD@{1}", "where HEAD was one move ago"),
    ("mmvc rev-parse --short main~2 v1^{tree}", "a commit's short id and a tag's tree id"),
    ("mmvc rev-parse --abbrev-ref @{u}", "the current branch's upstream, e.g. origin/main"),
])
@click.argument("revs", nargs=-1, required=True, metavar="REV...", shell_complete=complete.revisions)
@click.option("--short", is_flag=True, help="Print the first 12 characters of each id.")
@click.option("--abbrev-ref", is_flag=True, help="Print the short name of the ref each REV stands for (HEAD's branch, origin/main …).")
@json_option("Print the answers as a JSON array.")
@pass_console
def command(con, revs, short, abbrev_ref, as_json):
    """Print the object id each REV names, one per line, in Git's revision syntax (docs/cli.md,
    "Revisions"): HEAD@{1}, main@{2}, @{u}, @{-1}, v1~2^2, REV^{tree}, :/message …"""
    from mmvc.repo import Repo

    repo = Repo.discover()
    answers = [repo.rev_parse(rev, abbrev_ref=abbrev_ref) for rev in revs]
    if short and not abbrev_ref:
        answers = [a[:12] for a in answers]
    if as_json:
        con.json_value(answers)
        return
    for a in answers:
        con.data(a)
