"""Writing files the way any Unix tool is expected to: whole or not at all, honouring the
umask, and never renaming over what is not a regular file.

* :func:`stage` writes the bytes to a hidden temporary file beside the target, created with
  mode 0666 so the umask applies (an existing target's mode is kept), and fsyncs it;
  :func:`install` renames it over the target. Readers never see half a file.
* A target that exists and is not a regular file named directly — ``/dev/stdout``,
  ``/dev/null``, a FIFO, a symbolic link — is written as it is (:func:`write_direct`, like
  the shell's ``>``): renaming over it would replace the device or the link with a file.
* No directory is created.

Errors are :class:`OSError` s naming the user's target, never the temporary file.
"""

from __future__ import annotations

import contextlib
import os
import stat


def _error(exc: OSError, target: str) -> OSError:
    return OSError(exc.errno, exc.strerror or str(exc), target)


def is_renamable(target: str) -> bool:
    """True for a regular file named directly, or a path where no file is yet: those are
    replaced by rename. Raises OSError when the target cannot be examined."""
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return True
    return stat.S_ISREG(info.st_mode)


def stage(target: str, data: bytes) -> str:
    """Write ``data`` to a new temporary file beside ``target``; returns its name."""
    directory, name = os.path.split(target)
    mode = 0o666
    with contextlib.suppress(FileNotFoundError):
        mode = stat.S_IMODE(os.stat(target).st_mode)
    for attempt in range(100):
        temporary = os.path.join(directory, f".{name}.{os.getpid()}.{attempt}.tmp")
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise _error(exc, target) from None
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            if mode != 0o666:
                os.chmod(temporary, mode)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise _error(exc, target) from None
        return temporary
    raise OSError(17, "no free temporary file name beside it", target)


def install(temporary: str, target: str) -> None:
    """Rename a staged file over ``target``."""
    try:
        os.replace(temporary, target)
    except OSError as exc:
        raise _error(exc, target) from None


def discard(temporary: str) -> None:
    """Remove a staged file that will not be installed."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)


def write_direct(target: str, data: bytes) -> None:
    """Open ``target`` as it is (a device, a FIFO, a link) and write ``data`` to it."""
    try:
        with open(target, "wb") as stream:
            stream.write(data)
    except OSError as exc:
        raise _error(exc, target) from None


def write_file(target: str | os.PathLike[str], data: bytes) -> None:
    """Write one file whole (see the module docstring); raises OSError."""
    path = os.fspath(target)
    if not is_renamable(path):
        write_direct(path, data)
        return
    temporary = stage(path, data)
    try:
        install(temporary, path)
    finally:
        discard(temporary)
