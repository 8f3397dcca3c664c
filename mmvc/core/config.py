"""Repository configuration: ``.mmvc/config.toml``, with the on-disk format version in it.

Format 2 gave every object mmvc makes a header (docs/format.md, "Objects"). A format-1
repository is read as it is and upgraded by the first command that takes the write lock
(``upgrade_format``): only ``core.format`` changes, no object is rewritten.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field

from mmvc.errors import BadInputError, FormatError, NewerFormatError

FORMAT_VERSION = 2
DEFAULT_LINK = ("reflink", "copy")


@dataclass
class Config:
    format: int = FORMAT_VERSION
    gated: bool = True
    link: tuple[str, ...] = DEFAULT_LINK
    pack_threshold: int = 256 * 1024
    fsync_objects: bool = False
    jobs: int = 0  # 0 = one per core
    user_name: str = ""
    user_email: str = ""
    raw: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: str) -> Config:
        try:
            with open(path, "rb") as f:
                raw = tomllib.load(f)
        except FileNotFoundError:
            raise FormatError(f"{path} is missing", "this does not look like a complete mmvc repository; run `mmvc init` again in a new folder") from None
        except tomllib.TOMLDecodeError as e:
            raise FormatError(f"{path} is not valid TOML: {e}", "fix the file by hand") from None
        core = raw.get("core", {})
        fmt = core.get("format")
        if not isinstance(fmt, int):
            raise FormatError(f"{path} has no [core] format version", f"add `format = {FORMAT_VERSION}` under [core]")
        if fmt > FORMAT_VERSION:
            raise NewerFormatError("this repository", fmt, FORMAT_VERSION)
        link = core.get("link", ",".join(DEFAULT_LINK))
        user = raw.get("user", {})
        return cls(
            format=fmt,
            gated=bool(raw.get("process", {}).get("gated", True)),
            link=tuple(m.strip() for m in (link.split(",") if isinstance(link, str) else link) if m.strip()),
            pack_threshold=int(core.get("pack_threshold", 256 * 1024)),
            fsync_objects=bool(core.get("fsync_objects", False)),
            jobs=int(core.get("jobs", 0)),
            user_name=str(user.get("name", "")),
            user_email=str(user.get("email", "")),
            raw=raw,
        )


def initial_config_text(gated: bool) -> str:
    return (
        "# mmvc repository configuration. Format reference: docs/format.md\n"
        "[core]\n"
        f"format = {FORMAT_VERSION}\n"
        '# how `add` stores large files: the first mode that works on this filesystem is used\n'
        f'link = "{",".join(DEFAULT_LINK)}"\n'
        "# objects up to this many bytes are packed instead of stored as loose files\n"
        "pack_threshold = 262144\n"
        "# true: flush every added object to disk before `add` returns (refs, the index and\n"
        "# commits are always flushed; `commit` flushes what its version points at)\n"
        "fsync_objects = false\n"
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
        with open(global_config_path(), "rb") as f:
            user = tomllib.load(f).get("user", {})
    except (OSError, tomllib.TOMLDecodeError):
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
