"""Named remotes as ``[remote.NAME]`` in ``.mmvc/config.toml`` configures them.

A remote is a URL any fsspec filesystem understands, with an optional endpoint (S3-compatible
servers) and ``[remote.NAME.storage_options]`` passed to the filesystem as they are. The
repository (a partial clone's promisor), the remote verbs and the transport all read them here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mmvc.errors import BadInputError


@dataclass
class RemoteSpec:
    """A remote as configured under ``[remote.NAME]``."""

    name: str
    url: str
    endpoint_url: str = ""
    storage_options: dict = field(default_factory=dict)
    promisor: bool = False  # this repository is a partial clone of it: absent blobs are fetched from it

    def options(self) -> dict:
        opts = dict(self.storage_options)
        if self.endpoint_url:
            opts.setdefault("endpoint_url", self.endpoint_url)
        return opts


def normalise_url(url: str) -> str:
    """A URL as stored: a plain path becomes an absolute ``file://`` URL."""
    if not url:
        raise BadInputError("empty remote URL", "give an fsspec URL such as s3://bucket/prefix or a folder")
    if "://" not in url:
        return "file://" + os.path.abspath(url)
    proto, rest = url.split("://", 1)
    if proto in ("file", "local") and not rest.startswith("/"):
        return "file://" + os.path.abspath(rest)
    return url.rstrip("/")


def remote_specs(repo) -> dict:
    out = {}
    for name, sec in (repo.config.raw.get("remote") or {}).items():
        if not isinstance(sec, dict) or not sec.get("url"):
            continue
        opts = sec.get("storage_options") or {}
        out[name] = RemoteSpec(name=name, url=str(sec["url"]), endpoint_url=str(sec.get("endpoint_url", "")),
                               storage_options=dict(opts) if isinstance(opts, dict) else {}, promisor=bool(sec.get("promisor", False)))
    return out


def get_spec(repo, name: str | None):
    specs = remote_specs(repo)
    if name is None:
        if "origin" in specs:
            return specs["origin"]
        if len(specs) == 1:
            return next(iter(specs.values()))
        if not specs:
            raise BadInputError("this repository has no remote", "add one with `mmvc remote add origin s3://bucket/prefix`")
        raise BadInputError(f"several remotes and none named origin: {', '.join(sorted(specs))}", "name the remote to use")
    if name not in specs:
        known = ", ".join(sorted(specs)) or "none"
        raise BadInputError(f"no remote named {name!r} (known: {known})", f"add it with `mmvc remote add {name} URL`")
    return specs[name]


def pack_cache_dir(repo, name: str) -> str:
    return repo.layout.remote_packs(name)
