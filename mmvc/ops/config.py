"""``mmvc config``: read or set one value in ``.mmvc/config.toml`` (dotted keys, as git config)."""

from __future__ import annotations

from mmvc.errors import BadInputError


def _split(key: str) -> tuple[str, str]:
    if "." not in key:
        raise BadInputError(f"config key {key!r} needs a section", "e.g. process.families.clip or core.link")
    section, _, name = key.rpartition(".")
    return section, name


def parse_value(text: str):
    """``true``/``false`` → bool, integers and decimals → numbers, anything else → a string."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def get_config(repo, key: str):
    section, name = _split(key)
    node = repo.config.raw
    for part in section.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    if not isinstance(node, dict) or name not in node:
        raise BadInputError(f"{key} is not set", "`mmvc config KEY VALUE` sets it")
    return node[name]


def list_config(repo) -> dict:
    """Every set value of config.toml under its dotted key, in file order (``git config --list``)."""
    out: dict = {}

    def walk(node: dict, prefix: str) -> None:
        for k, v in node.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            else:
                out[prefix + k] = v

    walk(repo.config.raw, "")
    return out


def set_config(repo, key: str, value: str):
    from mmvc.core.config import Config, set_value

    section, name = _split(key)
    if section == "core" and name == "format":
        raise BadInputError("core.format is written by mmvc, not by hand", "it names the on-disk format version")
    with repo.locked("config"):
        set_value(repo, section, name, parse_value(value))
        repo.__dict__.pop("config", None)
        Config.load(repo.layout.config)  # refuses a value that makes the config invalid
    return parse_value(value)
