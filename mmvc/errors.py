"""Typed errors. Each carries an exit code and a hint so the CLI can print one clear line
saying what went wrong and what to do; the library never prints or exits itself.

Exit codes are part of the CLI contract (docs/cli.md) and never change meaning.
"""

from __future__ import annotations


class ExitCode:
    OK = 0
    DIFFERENCES = 1  # diff --exit-code found changes
    USAGE = 2  # bad command-line usage (click's own code)
    NOT_A_REPO = 3
    BAD_INPUT = 4  # a path, file, name or value the user gave cannot be used
    LOCKED = 5
    FORMAT = 6  # repository written by a newer mmvc, or a bad config
    CORRUPT = 7  # an object, index or ref fails its checks
    CONFLICT = 8  # the operation would lose work (dirty tree, nothing to commit …)
    GATE = 9  # the trust boundary refused the commit
    IO = 10  # disk full, permission denied, other OS-level failures
    HOOK = 11  # a user hook refused the operation (or timed out)
    REMOTE = 12  # a remote could not be reached, refused the credentials, or sent a bad object
    OUTPUT = 13  # stdout could not be written (a full disk, a failing device)
    EXTRA_MISSING = 14  # the command needs an optional extra (mmvc[process], mmvc[catalog] …) that is not installed
    CLUSTER = 15  # the Ray cluster could not be reached, or lost the workers a run needed
    STAGE = 16  # a user-defined process stage could not be loaded or broke the stage contract
    INTERRUPTED = 130
    OUTPUT_CLOSED = 141  # the reader closed stdout (`| head`): stop quietly, as a SIGPIPE'd Git does
    INTERNAL = 255  # an unexpected exception: a bug in mmvc, never a verdict about the data


class MmvcError(Exception):
    exit_code = ExitCode.INTERNAL  # an error nobody classified is a bug; subclasses say what it is

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class NotARepoError(MmvcError):
    exit_code = ExitCode.NOT_A_REPO


class BadInputError(MmvcError):
    exit_code = ExitCode.BAD_INPUT


class LockedError(MmvcError):
    exit_code = ExitCode.LOCKED


class FormatError(MmvcError):
    exit_code = ExitCode.FORMAT


class CorruptError(MmvcError):
    exit_code = ExitCode.CORRUPT


class NewerFormatError(FormatError, CorruptError):
    """Something on disk (or on a remote) was written by a newer mmvc. One type and one exit
    code wherever a format version is checked. It is also a CorruptError so that the walks that
    report unreadable objects (fsck, gc) go on reporting it as one instead of stopping."""

    def __init__(self, what: str, found, supported):
        super().__init__(f"{what} has format {found}, newer than this mmvc understands (format {supported})",
                         "upgrade mmvc: pip install -U mmvc")
        self.what = what
        self.found = found
        self.supported = supported


class ConflictError(MmvcError):
    exit_code = ExitCode.CONFLICT


class GateError(MmvcError):
    exit_code = ExitCode.GATE


class StorageError(MmvcError):
    exit_code = ExitCode.IO


class HookError(MmvcError):
    exit_code = ExitCode.HOOK


class RemoteError(MmvcError):
    exit_code = ExitCode.REMOTE


class ClusterError(MmvcError):
    exit_code = ExitCode.CLUSTER


class StageError(MmvcError):
    """A user-defined process stage (docs/process.md, "Writing a stage") failed to import, is
    declared wrongly, or returned outputs that break the contract: the stage's bug, named."""

    exit_code = ExitCode.STAGE


class ExtraMissingError(MmvcError):
    """Raised by ``mmvc.core.extras.require``: the feature's packages are not installed."""

    exit_code = ExitCode.EXTRA_MISSING

    def __init__(self, message: str, hint: str | None = None, extra: str = "", missing: tuple[str, ...] = ()):
        super().__init__(message, hint)
        self.extra = extra
        self.missing = missing


class ObjectNotFound(CorruptError):
    def __init__(self, oid: str, hint: str | None = None):
        super().__init__(f"object {oid} is missing from the store", hint or "run `mmvc fsck` to see which versions it breaks")
        self.oid = oid


def storage_error(exc: OSError, what: str) -> StorageError:
    """Translate an OSError into a StorageError whose hint matches the cause."""
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageError(f"{'disk full' if exc.errno == errno.ENOSPC else 'disk quota exceeded'} while {what}",
                            "free some space and run the command again; what was committed before is intact")
    if exc.errno == errno.EROFS:
        return StorageError(f"read-only file system while {what}" + (f": {exc.filename}" if exc.filename else ""),
                            "remount it read-write, or work on a copy of the repository on a writable disk")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return StorageError(f"permission denied while {what}: {exc.filename}", "check the permissions of the repository's files and folders")
    return StorageError(f"{exc.strerror or exc} while {what}" + (f": {exc.filename}" if exc.filename else ""))


def is_storage_failure(exc: BaseException) -> bool:
    """Whether an OSError is the storage refusing a write (full, read-only, forbidden, failing)
    rather than a bug: those become StorageError (exit 10), never a traceback."""
    import errno

    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                                                     errno.EIO, errno.EFBIG, errno.EMLINK, errno.ENAMETOOLONG)


def _restore_error(cls, state: dict, args: tuple):
    err = Exception.__new__(cls)
    err.args = args
    err.__dict__.update(state)
    return err


def _reduce(self):
    # Errors cross process boundaries (parallel hashing); keep their hint and fields intact.
    return (_restore_error, (type(self), dict(self.__dict__), self.args))


MmvcError.__reduce__ = _reduce  # type: ignore[method-assign]
