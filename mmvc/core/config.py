"""Repository configuration: ``.mmvc/config.toml``, with the on-disk format version in it.

Format 2 gave every object mmvc makes a header (docs/format.md, "Objects"). A format-1
repository is read as it is and upgraded by the first command that takes the write lock
(``upgrade_format``): only ``core.format`` changes, no object is rewritten.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field

from mmvc.core.lock import DEFAULT_TIMEOUT as DEFAULT_LOCK_TIMEOUT
from mmvc.errors import BadInputError, FormatError, NewerFormatError

FORMAT_VERSION = 2
DEFAULT_LINK = ("reflink", "copy")
FSYNC_MODES = ("batch", "each", "never")
SECTIONS = ("core", "process", "user", "hooks", "catalog", "gc", "remote")  # each a table when present


@dataclass
class Config:
    format: int = FORMAT_VERSION
    gated: bool = True
    link: tuple[str, ...] = DEFAULT_LINK
    pack_threshold: int = 256 * 1024
    fsync_objects: str = "batch"  # one of FSYNC_MODES
    jobs: int = 0  # 0 = one per core
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    portability: str = "refuse"  # one of mmvc.core.pathrules.PORTABILITY_MODES
    user_name: str = ""
    user_email: str = ""
    raw: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: str) -> Config:
        raw = read_toml(path)
        if raw is None:
            raise FormatError(f"{path} is missing", "this does not look like a complete mmvc repository; run `mmvc init` again in a new folder")
        get = _Getter(path, raw)
        fmt = get("core", "format", int, None)
        if fmt is None:
            raise FormatError(f"{path} has no [core] format version", f"add `format = {FORMAT_VERSION}` under [core]")
        if fmt > FORMAT_VERSION:
            raise NewerFormatError("this repository", fmt, FORMAT_VERSION)
        link = get("core", "link", (str, list), ",".join(DEFAULT_LINK))
        if isinstance(link, list) and not all(isinstance(m, str) for m in link):
            raise get.bad("core", "link", link, 'a string such as "reflink,copy"')
        from mmvc.core.pathrules import PORTABILITY_MODES

        get("hooks", "timeout", (int, float), 300)
        return cls(
            format=fmt,
            gated=get("process", "gated", bool, True),
            link=tuple(m.strip() for m in (link.split(",") if isinstance(link, str) else link) if m.strip()),
            pack_threshold=get("core", "pack_threshold", int, 256 * 1024),
            fsync_objects=_fsync_mode(get, get("core", "fsync_objects", (bool, str), "batch")),
            jobs=get("core", "jobs", int, 0),
            lock_timeout=float(get("core", "lock_timeout", (int, float), DEFAULT_LOCK_TIMEOUT)),
            portability=get.choice("core", "portability", PORTABILITY_MODES, "refuse"),
            user_name=get("user", "name", str, ""),
            user_email=get("user", "email", str, ""),
            raw=raw,
        )


def _fsync_mode(get, value) -> str:
    # true was "fsync each object"; false, the old default, now means the batch flush
    if isinstance(value, bool):
        return "each" if value else "batch"
    if value not in FSYNC_MODES:
        raise get.bad("core", "fsync_objects", value, " or ".join(f'"{m}"' for m in FSYNC_MODES))
    return value


_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string", list: "a list"}


class _Getter:
    """Typed reads of ``[section] key`` values: a wrong type is one FormatError naming the key."""

    def __init__(self, path: str, raw: dict):
        self.path = path
        self.raw = raw
        for s in SECTIONS:
            if s in raw and not isinstance(raw[s], dict):
                raise FormatError(f"{path}: {s} must be a [{s}] table, not {_shown(raw[s])}", f"edit {path} by hand")

    def __call__(self, section: str, key: str, types, default):
        value = self.raw.get(section, {}).get(key, default)
        types = types if isinstance(types, tuple) else (types,)
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)  # TOML true is no number
        if value is not default and not ok:
            raise self.bad(section, key, value, " or ".join(_TYPE_NAMES[t] for t in types))
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            raise self.bad(section, key, value, "a number of at least 0")
        return value

    def choice(self, section: str, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self(section, key, str, default)
        if value not in choices:
            raise self.bad(section, key, value, " or ".join(f'"{c}"' for c in choices))
        return value

    def bad(self, section: str, key: str, value, expected: str) -> FormatError:
        return FormatError(f"{self.path}: {section}.{key} must be {expected}, not {_shown(value)}",
                           f"edit {self.path} by hand (or `mmvc config {section}.{key} VALUE` once the file loads)")


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def read_toml(path: str) -> dict | None:
    """A TOML file's tables, or None when it does not exist; FormatError naming the line when
    it is not UTF-8 or not TOML."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise FormatError(f"cannot read {path}: {e.strerror}", "check the file's permissions") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise FormatError(f"{path} is not UTF-8 text (byte 0x{data[e.start]:02x} on line {line})", "save it as UTF-8, or fix that line by hand") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise FormatError(f"{path} is not valid TOML: {e}", "fix the file by hand") from None


def initial_config_text(gated: bool) -> str:
    return (
        "# mmvc repository configuration. Format reference: docs/format.md\n"
        "[core]\n"
        f"format = {FORMAT_VERSION}\n"
        '# how `add` stores large files: the first mode that works on this filesystem is used\n'
        f'link = "{",".join(DEFAULT_LINK)}"\n'
        "# objects up to this many bytes are packed instead of stored as loose files\n"
        "pack_threshold = 262144\n"
        '# "batch": new objects reach the disk in one flush before the index or a ref names them;\n'
        '# "each": every object is flushed as it is written; "never": left to the OS (fastest,\n'
        "# but after a power loss a version may name objects that never reached the disk)\n"
        'fsync_objects = "batch"\n'
        "# seconds a writer waits for another one to release the repository lock\n"
        f"lock_timeout = {DEFAULT_LOCK_TIMEOUT:g}\n"
        '# "refuse" | "warn" | "off": file names that Linux, macOS or Windows cannot check out\n'
        'portability = "refuse"\n'
        "\n"
        "[process]\n"
        "# false: commits skip the curation gate (raw-zone storage); such versions are marked ungated\n"
        f"gated = {'true' if gated else 'false'}\n"
    )


def global_config_path() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "mmvc", "config.toml")


def global_user() -> dict:
    """[user] from the per-user config file, or {} when there is none or it is unreadable."""
    try:
        user = (read_toml(global_config_path()) or {}).get("user", {})
    except FormatError:
        return {}
    if not isinstance(user, dict):
        return {}
    return {k: str(v) for k, v in user.items() if k in ("name", "email")}


def set_value(repo, section: str, key: str, value) -> None:
    """Set ``key = value`` under ``[section]`` (dotted: ``remote.origin``) in the repository's
    config.toml. Callers hold the repository lock."""

    import tomlkit

    def change(doc):
        table = doc
        parts = section.split(".")
        for i, part in enumerate(parts):
            if part not in table:
                new = tomlkit.table(is_super_table=i < len(parts) - 1)
                if table is doc and not doc.as_string().endswith("\n\n"):
                    doc.add(tomlkit.nl())  # a blank line before a new top-level table, as a person would write it
                table[part] = new
            table = table[part]
            if not isinstance(table, dict):
                raise BadInputError(f"{section} is a value in config.toml, not a table", f"pick a key that is not under {part!r}")
        table[key] = value

    edit_config(repo, change)


def remove_section(repo, section: str) -> None:
    """Drop ``[section]`` (dotted) and every table under it. Callers hold the repository lock."""

    def change(doc):
        *parents, last = section.split(".")
        table = doc
        for part in parents:
            table = table.get(part, {})
        if isinstance(table, dict) and last in table:
            del table[last]

    edit_config(repo, change)


def edit_config(repo, change) -> None:
    """Apply ``change`` to config.toml as a tomlkit document, which keeps every comment, blank
    line and layout it does not touch (a hand-edited ``[process]  # note`` stays as it is), and
    replace the file only with text that still parses."""
    import tomlkit

    from mmvc.core.atomicfile import atomic_write

    path = repo.layout.config
    with open(path, encoding="utf-8") as f:
        try:
            doc = tomlkit.parse(f.read())
        except tomlkit.exceptions.ParseError as e:
            raise FormatError(f"{path} is not valid TOML: {e}", "fix the file by hand") from None
    change(doc)
    text = tomlkit.dumps(doc)
    tomllib.loads(text)  # never write a file that no longer parses
    atomic_write(path, text.encode("utf-8"))


def upgrade_format(repo) -> bool:
    """Raise an older repository's ``core.format`` to this mmvc's before it writes anything, so
    that an mmvc which knows only the old format refuses the repository instead of misreading
    what this one writes. Callers hold the repository lock. Returns whether it upgraded."""
    if repo.config.format >= FORMAT_VERSION:
        return False
    set_value(repo, "core", "format", FORMAT_VERSION)
    repo.__dict__.pop("config", None)
    return True
