"""Where a source's bytes come from: one fsspec code path for local folders, s3://, gs://, hf://.

Local paths and URLs are resolved to (filesystem, paths) the same way, so every connector
works on every scheme. Errors a remote raises (no credentials, no such bucket) are turned into
typed errors that name the URL and the fix.
"""

from __future__ import annotations

import os

from mmvc.errors import BadInputError, RemoteError
from mmvc.importers.base import SourceFile

SUPPORTED_SCHEMES = ("file", "s3", "gs", "hf", "memory", "http", "https")
_SCHEME_PACKAGES = {"s3": "s3fs", "gs": "gcsfs", "hf": "huggingface_hub"}


def split_scheme(uri: str) -> tuple[str, str]:
    if "://" in uri:
        scheme, rest = uri.split("://", 1)
        return scheme.lower(), rest
    return "file", uri


def is_url(text: str) -> bool:
    return "://" in text


def protocols(fs) -> tuple:
    """The protocol names of an fsspec filesystem (``"file"``, ``("s3", "s3a")`` …) as a tuple."""
    p = fs.protocol
    return (p,) if isinstance(p, str) else tuple(p)


def filesystem(uri: str):
    """(fsspec filesystem, path inside it) for a local path or URL."""
    scheme, rest = split_scheme(uri)
    if scheme not in SUPPORTED_SCHEMES:
        raise BadInputError(f"unsupported URL scheme {scheme + '://'!r} in {uri}",
                            f"use a local path or one of: {', '.join(s + '://' for s in SUPPORTED_SCHEMES)}")
    import fsspec

    try:
        cls = fsspec.get_filesystem_class(scheme)
    except (ImportError, ValueError) as e:
        pkg = _SCHEME_PACKAGES.get(scheme, scheme)
        raise BadInputError(f"{scheme}:// needs the {pkg} package ({e})", f"pip install {pkg}") from None
    if scheme == "file":
        return cls(), os.path.abspath(os.path.expanduser(rest))
    fs = cls(**_storage_options(scheme))
    return fs, cls._strip_protocol(uri)


def _storage_options(scheme: str) -> dict:
    # a fresh client per import: a cached one would keep credentials the environment no longer has
    opts: dict = {} if scheme == "memory" else {"skip_instance_cache": True}
    if scheme == "s3" and os.environ.get("AWS_ENDPOINT_URL"):
        opts["client_kwargs"] = {"endpoint_url": os.environ["AWS_ENDPOINT_URL"]}
    return opts


def remote_error(exc: Exception, uri: str) -> Exception:
    """A typed error for a failure talking to the source; other exceptions pass unchanged."""
    name = type(exc).__name__
    text = str(exc)
    if name in ("NoCredentialsError", "PartialCredentialsError") or "credentials" in text.lower() or name == "DefaultCredentialsError":
        return RemoteError(f"no credentials to read {uri} ({text})",
                           "set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) for s3://, GOOGLE_APPLICATION_CREDENTIALS for "
                           "gs://, HF_TOKEN for gated hf:// datasets")
    if isinstance(exc, PermissionError):
        return RemoteError(f"access to {uri} was refused ({text})", "check the credentials and the bucket's policy")
    if isinstance(exc, FileNotFoundError):
        return BadInputError(f"{uri} does not exist ({text})", "check the path or URL")
    if isinstance(exc, (ConnectionError, TimeoutError)) or "Connect" in name or "Timeout" in name:
        where = {"s3": ", or AWS_ENDPOINT_URL for an S3-compatible store", "hf": ", or HF_ENDPOINT for a hub mirror"}.get(split_scheme(uri)[0], "")
        return RemoteError(f"cannot reach {uri} ({name}: {text})", f"check the network{where}")
    if split_scheme(uri)[0] != "file" and not isinstance(exc, (BadInputError, RemoteError)):
        # a remote library's own error type: still one clear line, not a traceback
        return RemoteError(f"reading {uri} failed ({name}: {text})", "check the URL, the credentials and the network")
    return exc


def expand(fs, path: str) -> list[str]:
    """Brace ranges (``{000..009}``, as WebDataset writes them) and globs, sorted."""
    from braceexpand import braceexpand

    out: list[str] = []
    for p in braceexpand(path) if "{" in path else [path]:
        if any(c in p for c in "*?["):
            out.extend(sorted(fs.glob(p)))
        else:
            out.append(p)
    return out


def source_file(fs, path: str, info: dict | None = None) -> SourceFile:
    if info is None:
        if _is_local(fs):  # one stat, without fsspec's path handling: this runs once per file
            st = os.stat(path)
            return SourceFile(path, st.st_size, f"mtime:{st.st_mtime}")
        info = fs.info(path)
    return SourceFile(path, int(info.get("size") or 0), _etag(info))


def _is_local(fs) -> bool:
    p = fs.protocol
    return "file" in ((p,) if isinstance(p, str) else p) and type(fs).__module__.startswith("fsspec.implementations.local")


def _etag(info: dict) -> str | None:
    for k in ("ETag", "etag", "md5Hash", "md5"):
        if info.get(k):
            return str(info[k]).strip('"')
    lfs = info.get("lfs")
    if isinstance(lfs, dict) and lfs.get("sha256"):
        return "sha256:" + lfs["sha256"]
    if info.get("blob_id"):
        return "git:" + str(info["blob_id"])
    m = info.get("mtime") or info.get("LastModified") or info.get("last_modified")
    if m is not None:
        return f"mtime:{m.isoformat() if hasattr(m, 'isoformat') else m}"
    return None


def check_unchanged(fs, f: SourceFile) -> None:
    """Refuse a file whose size or ETag moved since it was listed: its items would mix versions."""
    from mmvc.core.store import SourceChangedError

    try:
        now = source_file(fs, f.path)
    except FileNotFoundError:
        raise SourceChangedError(f"source file {f.path} disappeared during the import",
                                 "run the import again once the source is stable (`--resume` keeps what finished)") from None
    if now.size != f.size or now.etag != f.etag:
        what = f"size {f.size} → {now.size}" if now.size != f.size else f"etag {f.etag} → {now.etag}"
        raise SourceChangedError(f"source file {f.path} changed during the import ({what})",
                                 "run the import again once the source is stable (`--resume` keeps what finished)")


def list_files(fs, root: str) -> list[tuple[str, dict]]:
    """Every file under ``root`` (or ``root`` itself), sorted, with fsspec's info for each."""
    if fs.isfile(root):
        return [(root, fs.info(root))]
    found = fs.find(root, detail=True)
    return sorted(((p, i) for p, i in found.items() if i.get("type", "file") != "directory"), key=lambda t: t[0])


def upstream_revision(fs, path: str, revision: str | None) -> str | None:
    """The dataset commit a hub path resolves to (HfFileSystem), else the revision asked for."""
    resolve = getattr(fs, "resolve_path", None)
    if resolve is None:
        return revision
    try:
        resolved = resolve(path, revision=revision) if revision else resolve(path)
    except Exception as e:  # noqa: BLE001 — translated, or re-raised when unknown
        raise remote_error(e, path) from None
    rev = getattr(resolved, "revision", None) or revision
    api = getattr(fs, "_api", None)
    if api is not None and rev and not (len(rev) == 40 and all(c in "0123456789abcdef" for c in rev)):
        try:
            rev = api.repo_info(resolved.repo_id, repo_type=resolved.repo_type, revision=rev).sha or rev
        except Exception:  # noqa: BLE001 — the ref name is still worth recording
            pass
    return rev
