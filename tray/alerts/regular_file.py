"""The history's files (alerts, shown marks) are opened only as regular files, never blocking.

A FIFO, directory or device in a file's place cannot hang start-up, `logtray alerts` or
shutdown: it is opened with O_NONBLOCK (a FIFO opens at once) and then refused.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

# The most of the file's end that is read at start (a history of 1,000 records is ~1 MB).
MAX_READ_BYTES = 64 * 1024 * 1024
OPEN_FLAGS = os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


class HistoryFileError(OSError):
    """The history file is not a regular file (a directory, a FIFO, a device)."""


def open_regular(path: Path, flags: int) -> int:
    """A descriptor of `path` if it is a regular file; never blocks (O_NONBLOCK: a FIFO opens
    at once, and is then refused)."""
    fd = os.open(path, flags | OPEN_FLAGS, 0o600)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise HistoryFileError(errno.EINVAL, f"it is {kind} (a FIFO, device or socket?)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def open_append(path: Path) -> int:
    """A descriptor appending to `path` (made when missing), private to the user (0600, also
    for an older, wider file: alerts are private)."""
    fd = open_regular(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        return fd
    except BaseException:
        os.close(fd)
        raise


def read_tail(path: Path, limit: int = MAX_READ_BYTES) -> bytes:
    """The file's content (its last `limit` bytes, from a line start), b"" if it is missing;
    OSError if it cannot be read or is not a regular file."""
    try:
        fd = open_regular(path, os.O_RDONLY)
    except FileNotFoundError:
        return b""
    with os.fdopen(fd, "rb") as file:
        size = os.fstat(fd).st_size
        if size <= limit:
            return file.read(limit + 1)[:limit]
        file.seek(size - limit)
        data = file.read(limit)
        return data[data.find(b"\n") + 1 :]
