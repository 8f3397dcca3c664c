"""Hostile input, generated (hypothesis): item paths as a remote may send them, config files,
manifest nodes and table rows. Whatever the bytes, the answer is a typed error or a result;
never a traceback, never a path that lands outside the work tree or in ``.git``/``.mmvc``.
``pytest --hypothesis-profile=soak`` runs 2,000 examples of each."""

from __future__ import annotations

import json
import os
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from mmvc.core.config import Config
from mmvc.core.manifest import NODE_MAGIC, decode_node
from mmvc.core.pathrules import PROTECTED, display_path, key_problem, tree_keys_problems
from mmvc.errors import CorruptError, MmvcError

# Characters that make paths interesting: separators, dots, the letters of .git/.mmvc in both
# cases, HFS-ignored code points, NTFS suffixes, controls, and anything else.
_TRICKY = st.sampled_from(list("/\\.:~ gitGITmvcMVC1$\x00\n\x1b") + ["\u200c", "\u200d", "\ufeff", "\u202e", "ı", "İ", "ſ"])
_CHARS = st.one_of(_TRICKY, st.characters(codec="utf-8"), st.characters())
paths = st.lists(_CHARS, max_size=40).map("".join)


_HFS_IGNORED = {0x200C, 0x200D, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x206A, 0x2070), 0xFEFF}


def _fold(part: str) -> str:
    """The name as case-insensitive, HFS+ and NTFS filesystems compare it."""
    part = "".join(c for c in part.casefold() if ord(c) not in _HFS_IGNORED)
    return part.split(":", 1)[0].rstrip(". ")


@given(paths)
@example(".GIT/config")
@example("sub/.git./hooks/x")
@example("a/git~1/x")
@example("t/.g\u200cit/h")
@example("x/.mmvc::$INDEX_ALLOCATION/y")
@example("a\\.git\\config")
def test_an_accepted_path_stays_inside_the_work_tree_and_out_of_git_and_mmvc(key):
    why = key_problem(key)
    if why is not None:
        assert isinstance(why, str) and why
        return
    root = os.path.join(os.sep, "work", "tree")
    full = os.path.normpath(os.path.join(root, *key.split("/")))
    assert full.startswith(root + os.sep)
    for part in key.split("/"):
        for piece in part.split("\\"):
            assert _fold(piece) not in PROTECTED and _fold(piece) not in ("git~1", "mmvc~1"), key


@given(paths)
def test_display_never_passes_a_control_character_to_the_terminal(key):
    shown = display_path(key)
    assert not any(unicodedata.category(c) == "Cc" for c in shown)
    assert "\u202e" not in shown


@given(st.lists(paths, max_size=12))
def test_tree_checks_answer_for_any_sorted_keys(keys):
    problems, _ = tree_keys_problems(sorted(set(keys)))
    assert all(isinstance(k, str) and isinstance(why, str) for k, why in problems)


@given(st.binary(max_size=400) | st.text(max_size=300).map(lambda t: ("[core]\nformat = 2\n" + t).encode("utf-8", "surrogatepass")))
@example(b"[core]\nformat = 2\n[process]  # x\ngated = 1\n")
@example(b"core = 5\n")
@example(b"[core]\nformat = 2\nlink = [1, 2]\n")
def test_any_config_file_loads_or_is_one_format_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_bytes(data)
    try:
        Config.load(str(path))
    except MmvcError as e:
        assert e.exit_code in (6,), e


@given(st.binary(max_size=300).map(lambda b: NODE_MAGIC + b) | st.binary(max_size=300))
def test_any_manifest_node_bytes_decode_or_are_corrupt(data):
    try:
        node = decode_node(data, "0" * 64)
    except CorruptError:
        return
    for it in node.items:
        assert isinstance(it[0], str)


@pytest.fixture(scope="module")
def table_repo(tmp_path_factory):
    from mmvc.repo import Repo

    return Repo.init(str(tmp_path_factory.mktemp("rows")), ungated=True)


_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)


@given(st.lists(st.one_of(st.dictionaries(st.sampled_from(["text", "id", "lang", "license"]), _values, max_size=4).map(json.dumps),
                          st.text(max_size=30)), min_size=1, max_size=6))
def test_any_jsonl_rows_import_or_are_one_bad_input_error(table_repo, lines):
    from mmvc.importers.base import ImportOptions

    path = os.path.join(table_repo.root, "rows.jsonl")
    with open(path, "w", encoding="utf-8", errors="surrogatepass") as f:
        f.write("\n".join(lines) + "\n")
    try:
        table_repo.import_("jsonl", [path], options=ImportOptions(text_field="text", id_field="id", meta_fields=["lang"]),
                           dry_run=True)
    except MmvcError:  # a typed error (one line, an exit code), never a traceback
        pass
