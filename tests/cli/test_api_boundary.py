"""One public Python API: the command line reaches the library only through ``Repo`` (DVC-style),
and ``Repo`` binds every verb the command line has."""

from __future__ import annotations

import ast
import inspect
import os

import mmvc.cli
from mmvc.repo import Repo

CLI_DIR = os.path.dirname(mmvc.cli.__file__)

# What a command module may import from mmvc: the CLI itself, the API, its errors, the version,
# the names of modalities and the terminal-safe form of a path (for rendering).
# `mmvc ui` starts the web front end (mmvc.ui), which itself reads only through Repo.
ALLOWED = ("mmvc.cli", "mmvc.repo", "mmvc.errors", "mmvc.core.modality", "mmvc.core.extras", "mmvc.core.layout",
           "mmvc.core.pathrules", "mmvc.ui")


def _mmvc_imports(path: str) -> list[tuple[int, str]]:
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names
                                                    if node.module == "mmvc"]
    return [(n, m) for n, m in out if m == "mmvc" or m.startswith("mmvc.")]


def test_the_cli_calls_the_library_only_through_repo():
    bad = []
    for name in sorted(os.listdir(CLI_DIR)):
        if not name.endswith(".py"):
            continue
        for line, module in _mmvc_imports(os.path.join(CLI_DIR, name)):
            if module != "mmvc" and module != "mmvc.__version__" and not module.startswith(ALLOWED):
                bad.append(f"mmvc/cli/{name}:{line} imports {module}")
    assert not bad, "the CLI goes through mmvc.repo.Repo, never the library's inner modules:\n" + "\n".join(bad)


# Every command of the CLI and the Repo method(s) behind it.
VERBS = {
    "init": ["init"], "clone": ["clone"], "add": ["add"], "import": ["import_"], "status": ["status"], "process": ["process"],
    "report": ["report"], "commit": ["commit"], "log": ["log"], "show": ["show"], "diff": ["diff"], "ls-files": ["ls_files"],
    "cat-object": ["cat_object", "pretty_object"], "rev-parse": ["rev_parse"], "rm": ["rm"], "mv": ["mv"], "restore": ["restore"],
    "branch": ["branch", "list_branches", "delete_branch", "rename_branch", "head"], "switch": ["switch"], "checkout": ["checkout"],
    "merge": ["merge", "merge_continue", "merge_abort"], "tag": ["tag", "list_tags", "delete_tag"], "reflog": ["reflog"],
    "fsck": ["fsck"], "gc": ["gc"], "search": ["search"], "query": ["query"], "lineage": ["lineage"], "datasheet": ["datasheet"],
    "catalog": ["catalog_status", "rebuild_catalog", "catalog"],
    "recipe": ["create_recipe", "show_recipe", "list_recipes", "delete_recipe"], "export": ["export"],
    "eval": ["add_eval", "list_evals", "show_eval", "compare_evals"],
    "remote": ["add_remote", "list_remotes", "remove_remote"], "push": ["push"], "fetch": ["fetch"], "pull": ["pull"],
    "config": ["get_config", "set_config", "list_config"], "completion": [], "ui": [],
}


def test_repo_binds_every_verb_with_a_docstring_and_no_catch_all_keywords():
    from mmvc.cli.main import COMMANDS

    assert set(VERBS) == set(COMMANDS), "a new command needs its Repo method(s) listed here"
    for verb, methods in VERBS.items():
        for m in methods:
            fn = getattr(Repo, m, None)
            assert callable(fn), f"`mmvc {verb}` has no Repo.{m}"
            assert inspect.getdoc(fn), f"Repo.{m} has no docstring"
            kinds = {p.kind for p in inspect.signature(fn).parameters.values()}
            assert inspect.Parameter.VAR_KEYWORD not in kinds, f"Repo.{m} takes **kwargs: spell its options out"
