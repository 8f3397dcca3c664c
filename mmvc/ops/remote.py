"""``mmvc remote add | list | remove``: named remotes under ``[remote.NAME]`` in .mmvc/config.toml.

A remote is a URL any fsspec filesystem understands, with an optional endpoint (S3-compatible
servers) and ``[remote.NAME.storage_options]`` passed to the filesystem as they are.
Credentials are never written here by mmvc: they come from the environment or the profile the
filesystem library reads (AWS_ACCESS_KEY_ID, AWS_PROFILE, AWS_ENDPOINT_URL …).
"""

from __future__ import annotations

from dataclasses import dataclass

from mmvc.core.layout import tracking_ref
from mmvc.errors import BadInputError
from mmvc.services.remotes import get_spec, normalise_url, remote_specs

@dataclass
class RemoteInfo:
    name: str
    url: str
    endpoint_url: str = ""
    promisor: bool = False
    tracking: int = 0  # remote-tracking refs under refs/remotes/NAME


def open_remote(repo, name: str | None):
    from mmvc.remote.transport import Remote

    return Remote(get_spec(repo, name))


def _reload(repo) -> None:
    repo.__dict__.pop("config", None)


def add_remote(repo, name: str, url: str, endpoint_url: str | None = None, force: bool = False) -> RemoteInfo:
    from mmvc.core.config import set_value
    from mmvc.core.refs import check_ref_name

    check_ref_name(name, "remote")
    url = normalise_url(url)
    with repo.locked("remote add"):
        if name in remote_specs(repo) and not force:
            raise BadInputError(f"remote {name} already exists", f"remove it with `mmvc remote remove {name}`, or pass --force to replace it")
        set_value(repo, f"remote.{name}", "url", url)
        if endpoint_url:
            set_value(repo, f"remote.{name}", "endpoint_url", endpoint_url)
        _reload(repo)
    return RemoteInfo(name, url, endpoint_url or "")


def list_remotes(repo) -> list[RemoteInfo]:
    out = []
    for name, spec in sorted(remote_specs(repo).items()):
        tracking = len(repo.refs.list(tracking_ref(name)))
        out.append(RemoteInfo(name, spec.url, spec.endpoint_url, spec.promisor, tracking))
    return out


def remove_remote(repo, name: str) -> RemoteInfo:
    """Forget the remote: its config section and its remote-tracking refs (nothing on the remote changes)."""
    import shutil

    from mmvc.core.config import remove_section

    spec = get_spec(repo, name)
    if spec.promisor:
        raise BadInputError(f"remote {name} is the promisor of this partial clone: blobs not yet fetched live there",
                            "fetch what you need first (`mmvc checkout BRANCH --no-sparse`), or keep the remote")
    with repo.locked("remote remove"):
        remove_section(repo, f"remote.{name}")
        for ref, oid in repo.refs.list(tracking_ref(name)).items():
            repo.refs.delete(ref, oid)
        shutil.rmtree(repo.layout.remote(name), ignore_errors=True)
        _reload(repo)
    return RemoteInfo(name, spec.url, spec.endpoint_url)

