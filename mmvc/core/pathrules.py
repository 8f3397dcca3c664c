"""The rules an item path (its key in a version) must follow, and how one is shown safely.

Two kinds of rule, for two reasons:

* **Safety** (``key_problem``): always enforced, wherever a path comes from (``add``, a
  manifest being checked out, merged or fetched, ``fsck``). A path is relative, '/'-separated,
  valid UTF-8, without NUL bytes or empty, ``.`` or ``..`` components, and no component may
  name ``.git`` or ``.mmvc`` in any spelling some filesystem treats as that name: any case
  (``.GIT``), trailing dots or spaces (``.git.``, ``.git ``), an NTFS stream suffix
  (``.git::$INDEX_ALLOCATION``), the NTFS short name (``git~1``, ``mmvc~1``), or with the code
  points HFS+ ignores inside it (``.g\\u200cit``). Checking such a component out would let a
  remote plant Git or mmvc hooks and config that run code on the next command (Git's
  ``verify_path`` refuses the same family of names for the same reason).
* **Portability** (``portability_problems``): what some supported platform (Linux, macOS,
  Windows) cannot check out. ``add`` applies them under ``core.portability`` (docs/cli.md).

A version must also never hold both ``dir`` and ``dir/child`` (one would have to be a file and
a folder at once); ``prefix_conflicts`` finds such pairs in sorted keys.
"""

from __future__ import annotations

import re
import unicodedata

from mmvc.errors import BadInputError

PROTECTED = (".git", ".mmvc")
# Code points HFS+ drops when it compares names (Git's is_hfs_dotgit list).
_HFS_IGNORED = dict.fromkeys([0x200C, 0x200D, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x206A, 0x2070), 0xFEFF])
_SHORT_NAMES = ("git~1", "mmvc~1")  # NTFS 8.3 aliases of .git and .mmvc

PORTABILITY_MODES = ("refuse", "warn", "off")
NAME_MAX_BYTES = 255  # one component: Linux NAME_MAX (macOS and Windows allow 255 UTF-16 units, never fewer)
PATH_MAX_BYTES = 4096  # a whole path: Linux PATH_MAX
WINDOWS_MAX_PATH = 260  # Windows without long-path support
_WINDOWS_RESERVED = frozenset(["con", "prn", "aux", "nul", *(f"com{i}" for i in "123456789¹²³"), *(f"lpt{i}" for i in "123456789¹²³")])
_WINDOWS_BAD_CHARS = re.compile(r'[<>:"|?*\\\x00-\x1f]')
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NEEDS_QUOTES = re.compile('[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"\\\\]')


def is_protected_component(part: str) -> bool:
    """Whether one path component names ``.git`` or ``.mmvc`` on some filesystem."""
    low = part.lower()
    if not low.isascii():
        low = low.translate(_HFS_IGNORED).casefold()
    if "git" not in low and "mmvc" not in low:  # the fast path: nearly every name
        return False
    for piece in low.split("\\"):  # a backslash separates folders on Windows
        piece = piece.split(":", 1)[0].rstrip(". ")  # NTFS: stream suffix, trailing dots and spaces
        if piece in PROTECTED or piece in _SHORT_NAMES:
            return True
    return False


def key_problem(key: str) -> str | None:
    """Why ``key`` may not name an item (the safety rules above), or None when it may."""
    if not key or key[0] == "/" or "\0" in key:
        return "item paths are relative, '/'-separated, without NUL bytes"
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return "file name is not valid UTF-8"
    for part in key.split("/"):
        if part in ("", ".", ".."):
            return "item paths may not contain empty, '.' or '..' components"
        if is_protected_component(part):
            return f"{part!r} stands for .git or .mmvc on some filesystem, and mmvc never versions or writes those at any depth"
    return None


def validate_key(key: str, what: str = "path") -> str:
    """Raise unless ``key`` may name an item; returns it unchanged."""
    why = key_problem(key)
    if why is None:
        return key
    if why.startswith("file name is not valid UTF-8"):
        raise BadInputError(f"file name {key.encode('utf-8', 'surrogateescape')!r} is not valid UTF-8",
                            "rename the file (e.g. with `convmv`) or add it to .mmvcignore")
    raise BadInputError(f"invalid {what} {display_path(key)}: {why}", "rename it, or list it in .mmvcignore")


# --------------------------------------------------------------------------- portability


def fold_name(name: str) -> str:
    """The form under which case-insensitive, normalising filesystems (macOS, Windows) compare names."""
    return name.lower() if name.isascii() else unicodedata.normalize("NFC", name).casefold()


def name_problem(name: str) -> tuple[str, str] | None:
    """(severity, why) when one component cannot be checked out on some supported platform;
    severity "refuse" for what one of them cannot hold at all, "warn" for what only some setups refuse."""
    if len(name) * 4 > NAME_MAX_BYTES and len(name.encode("utf-8", "surrogateescape")) > NAME_MAX_BYTES:
        return "refuse", f"name longer than {NAME_MAX_BYTES} bytes (Linux, macOS and Windows limit)"
    if _WINDOWS_BAD_CHARS.search(name):
        return "refuse", 'name holds a character Windows forbids (< > : " | ? * \\ or a control character)'
    if name[-1] in ". ":
        return "refuse", "name ends with a dot or a space (Windows drops them)"
    stem = name.split(".", 1)[0]
    if len(stem) < 16 and stem.rstrip(" ").lower() in _WINDOWS_RESERVED:
        return "refuse", "reserved device name on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9)"
    return None


def path_problem(key: str) -> tuple[str, str] | None:
    """(severity, why) for a whole path's length."""
    n = len(key.encode("utf-8", "surrogateescape"))
    if n > PATH_MAX_BYTES:
        return "refuse", f"path longer than {PATH_MAX_BYTES} bytes (Linux limit)"
    if len(key) > WINDOWS_MAX_PATH - 20:
        return "warn", f"path longer than {WINDOWS_MAX_PATH - 20} characters (Windows cannot check it out without long-path support)"
    return None


def portability_problems(new_keys, names_in) -> list[tuple[str, str, str]]:
    """(path, severity, why) for what in ``new_keys`` some platform cannot check out: names,
    lengths, and names that fold to the name of another entry of the same folder (``A.txt``
    beside ``a.txt``). ``names_in(folder)`` gives the names already tracked directly in a folder
    ("" = the root), files and folders alike; each folder is asked once."""
    out = []
    judged: set[str] = set()
    folders: dict[str, dict[str, str]] = {}
    for key in new_keys:
        p = path_problem(key)
        if p:
            out.append((key, *p))
        parent = ""
        for name in key.split("/"):
            sub = f"{parent}/{name}" if parent else name
            if sub not in judged:
                judged.add(sub)
                names = folders.get(parent)
                if names is None:
                    names = folders[parent] = {fold_name(n): n for n in names_in(parent)}
                other = names.setdefault(fold_name(name), name)
                problem = name_problem(name)
                if problem is None and other != name:
                    shown = f"{parent}/{other}" if parent else other
                    problem = ("refuse", f"differs only in case or Unicode form from {shown!r}, the same name on macOS and Windows")
                if problem:
                    out.append((sub, *problem))
            parent = sub
    return out


# --------------------------------------------------------------------------- whole trees


def prefix_conflicts(sorted_keys, open_keys: tuple[str, ...] = ()) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
    """(file key, key below it) pairs where one key is a folder of another, among sorted keys,
    and the keys still open at the end, to continue the scan over the keys that follow. Keys
    sharing a prefix are contiguous in sorted order, so only the keys that are prefixes of the
    current one need remembering."""
    stack = list(open_keys)
    found = []
    for k in sorted_keys:
        while stack and not k.startswith(stack[-1]):
            stack.pop()
        if stack and len(k) > len(stack[-1]) and k[len(stack[-1])] == "/":
            found.append((stack[-1], k))
        stack.append(k)
    return found, tuple(stack)


def tree_keys_problems(sorted_keys, open_keys: tuple[str, ...] = ()) -> tuple[list[tuple[str, str]], tuple[str, ...]]:
    """(key, why) for each key of a version (a run of its sorted keys) that breaks a rule:
    ``key_problem``, or a key that is also the folder of another. Returns the open keys too, to
    continue over the next run (see ``prefix_conflicts``)."""
    keys = list(sorted_keys)
    found = [(k, why) for k in keys if (why := key_problem(k)) is not None]
    clashes, open_keys = prefix_conflicts(keys, open_keys)
    found += [(b, f"{a!r} is a file, so it cannot also be the folder of {b!r}") for a, b in clashes]
    return found, open_keys


# --------------------------------------------------------------------------- display


def display_path(key: str) -> str:
    """``key`` as it may safely be written to a terminal or a line-based listing: unchanged
    unless it holds control characters (escape sequences, newlines, bidirectional overrides), a
    double quote or a backslash, in which case it is quoted C-style as Git does ("a\\033[31m.txt")."""
    if not _NEEDS_QUOTES.search(key):
        return key
    body = key.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + _CONTROL.sub(_escape, body) + '"'


_NAMED = {"\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r"}


def _escape(m: re.Match) -> str:
    c = m.group(0)
    if c in _NAMED:
        return _NAMED[c]
    o = ord(c)
    return f"\\{o:03o}" if o < 0x100 else f"\\u{o:04x}"
