"""``mmvc-pre-commit``: the hooks that ``.pre-commit-hooks.yaml`` declares for the pre-commit
framework. Each finds the mmvc repository itself (pre-commit runs hooks in the Git root, and
its ``args`` come after the command, where ``mmvc -C`` cannot go) and then runs one ``mmvc``
command on it. What each check may read is chosen against pre-commit's stash (docs/ci.md)."""

from __future__ import annotations

import os

import click

from mmvc.cli.main import MmvcCommand

CHECKS = {
    # check: (the mmvc command it runs, whether it reads the work tree, whether it can fail)
    "status": (["status"], True, False),
    "diff-staged": (["diff", "--cached", "--stat"], False, False),
    "worktree-clean": (["diff", "--exit-code", "--name-status"], True, True),
}
LAYOUT_HINT = ("git-ignore the dataset (its folder in .gitignore) so that Git, and pre-commit's stash, never touch its "
               "files; docs/ci.md shows the layout")


@click.command("mmvc-pre-commit", cls=MmvcCommand, context_settings={"help_option_names": ["-h", "--help"]}, examples=[
    ("mmvc-pre-commit status", "show the dataset's state (never fails)"),
    ("mmvc-pre-commit worktree-clean --repo data", "fail when files of the dataset in data/ changed without `mmvc add`"),
])
@click.argument("check", type=click.Choice(list(CHECKS)))
@click.option("--repo", metavar="DIR", type=click.Path(file_okay=False),
              help="The mmvc repository (default: the one at or above the current folder, else in a subfolder).")
@click.pass_context
def command(ctx: click.Context, check: str, repo: str | None) -> None:
    """Run a pre-commit check on the mmvc repository of a Git repository.

    status and diff-staged only show and never fail; worktree-clean fails (exit 1) when tracked
    dataset files changed without `mmvc add`. A check that reads the work tree refuses to judge
    (exit 4) a dataset whose files Git tracks too: pre-commit stashes Git's unstaged changes
    before hooks run, so it would see Git's copy of those files instead of the work tree."""
    from mmvc.cli.console import Console
    from mmvc.cli.main import cli
    from mmvc.errors import ExitCode, MmvcError
    from mmvc.repo import Repo

    con = Console()
    args, reads_worktree, can_fail = CHECKS[check]
    try:
        root = Repo.find_dataset(repo or ".")
        tracked = Repo(root).git_tracked() if root and reads_worktree else []
    except MmvcError as e:
        con.error(e.message, e.hint)
        ctx.exit(e.exit_code if can_fail else 0)
    if root is None:
        where = os.path.abspath(repo or ".")
        if not can_fail:
            con.info(f"mmvc-pre-commit {check}: no mmvc repository at, above or just below {where}; nothing to show")
            ctx.exit(0)
        con.error(f"no mmvc repository at, above or just below {where}", "name it with --repo DIR in the hook's args")
        ctx.exit(ExitCode.NOT_A_REPO)
    if tracked:
        shown = ", ".join(tracked[:3]) + (" …" if len(tracked) > 3 else "")
        message = (f"Git tracks files of the dataset in {root} too ({shown}): pre-commit stashes their unstaged changes, "
                   "so the work tree is not what a hook would check")
        if not can_fail:
            con.warn(f"warning: {message}; not shown. Fix: {LAYOUT_HINT}")
            ctx.exit(0)
        con.error(message, LAYOUT_HINT)
        ctx.exit(ExitCode.BAD_INPUT)
    code = cli.main(["-C", root, *args], prog_name="mmvc", standalone_mode=False)
    ctx.exit(code if can_fail and code else 0)


def main():
    command.main(prog_name="mmvc-pre-commit")


if __name__ == "__main__":
    main()
