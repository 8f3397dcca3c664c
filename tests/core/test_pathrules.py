"""Item path rules: what may name an item at all, what every platform can check out, how a path
is shown on a terminal."""

from __future__ import annotations

import pytest

from mmvc.core.pathrules import (
    display_path,
    key_problem,
    portability_problems,
    prefix_conflicts,
    validate_key,
)
from mmvc.errors import BadInputError

PROTECTED = [
    ".git/HEAD", ".mmvc", ".mmvc/x", "sub/.git/config", "tools/.mmvc/hooks/pre-commit", "x/.git/y", "x/.mmvc",
    ".GIT/config", "a/.Git/x", "a/.MMVC/hooks/x",  # any case
    "a/.git./x", "a/.git /x", "a/.git. . /x", "a/.mmvc./x",  # NTFS drops trailing dots and spaces
    "a/.git::$INDEX_ALLOCATION/x", "a/.git:stream",  # NTFS alternate data streams
    "a/git~1/x", "a/GIT~1/x", "a/MMVC~1/hooks/x",  # NTFS short names
    "a/.g\u200cit/x", "a/.gi\u200dt", "a/\ufeff.git/x", "a/.\u200emmvc/x", "a/.g\u202eit",  # code points HFS+ ignores
    "a/b\\.git\\config",  # a backslash separates folders on Windows
]


@pytest.mark.parametrize("key", ["", "/abs", "/", "a/../b", "..", "./a", "a/./b", "a//b", "a/", "a\0b", "caf\udce9.txt", *PROTECTED])
def test_validate_key_rejects(key):
    assert key_problem(key) is not None
    with pytest.raises(BadInputError):
        validate_key(key)


@pytest.mark.parametrize("key", ["a", "a b/c\nd.txt", "ü/日本.wav", ".hidden", ".mmvcx/y", "..a/b..", "x/.gitignore", ".github/w.yml",
                                 "a/.gitmodules", "mmvc/git/x", "a/.git-x/y", "a/git~2/x", "a/égit", "a/.mmvcignore", "a/.gi t"])
def test_validate_key_accepts(key):
    assert key_problem(key) is None
    assert validate_key(key) == key


def test_a_protected_name_is_named_in_the_error():
    with pytest.raises(BadInputError) as err:
        validate_key("tools/.MMVC/hooks/pre-commit", "path in the target version")
    assert "'.MMVC'" in err.value.message and "path in the target version" in err.value.message


def _problems(keys, tracked=()):
    def names_in(folder):
        pre = folder + "/" if folder else ""
        return {k[len(pre):].split("/")[0] for k in tracked if k.startswith(pre)}

    return {k: (sev, why) for k, sev, why in portability_problems(keys, names_in)}


def test_case_fold_collisions_are_found_among_new_and_tracked_names():
    got = _problems(["A.txt", "a.txt", "d/x", "D/y", "ok"], tracked=["Ok/inner"])
    assert got["a.txt"][0] == "refuse" and "'A.txt'" in got["a.txt"][1]
    assert got["D"][0] == "refuse" and "'d'" in got["D"][1]  # a folder named twice
    assert got["ok"][0] == "refuse" and "'Ok'" in got["ok"][1]
    assert set(got) == {"a.txt", "D", "ok"}


def test_unicode_forms_collide_like_cases():
    assert "caf\u0065\u0301.txt" in _problems(["caf\u00e9.txt", "caf\u0065\u0301.txt"])  # NFC and NFD: one name on macOS


def test_names_some_platform_cannot_hold():
    long_name = "n" * 256
    got = _problems(["CON", "aux.txt", "d/LPT1.log", "trail.", "space ", "a:b", "q?", "t\x1bx", long_name, "ok/" + "n" * 255,
                     "x" * 250 + "/y"])
    assert {k for k, (sev, _) in got.items() if sev == "refuse"} == {"CON", "aux.txt", "d/LPT1.log", "trail.", "space ", "a:b", "q?", "t\x1bx",
                                                                      long_name}
    assert got["x" * 250 + "/y"][0] == "warn"  # only Windows without long paths cannot
    assert got["ok/" + "n" * 255][0] == "warn"  # 255 bytes is a legal name everywhere; only the path's length warns


def test_a_path_over_the_linux_limit_is_refused():
    key = "/".join(["d" * 200] * 21)
    assert _problems([key])[key][0] == "refuse"


def test_prefix_conflicts_span_sorted_runs():
    found, open_keys = prefix_conflicts(["a", "a-b", "a.txt", "a/c", "b"])
    assert found == [("a", "a/c")] and open_keys == ("b",)
    found, open_keys = prefix_conflicts(["d", "d!"])
    assert found == [] and open_keys == ("d", "d!")
    assert prefix_conflicts(["d/x"], open_keys)[0] == [("d", "d/x")]  # a scan continued over the next run


@pytest.mark.parametrize("name,shown", [
    ("plain.txt", "plain.txt"),
    ("ü/日本.wav", "ü/日本.wav"),
    ("a\x1b[31mred.txt", '"a\\033[31mred.txt"'),
    ("new\nline", '"new\\nline"'),
    ('q"uote\x07', '"q\\"uote\\a"'),
    ("back\\slash\x7f", '"back\\\\slash\\177"'),
    ("back\\slash", '"back\\\\slash"'),
    ('a"b', '"a\\"b"'),
    ("evil\u202etxt.exe", '"evil\\u202etxt.exe"'),
])
def test_display_path_escapes_what_a_terminal_would_obey(name, shown):
    assert display_path(name) == shown
