"""Atomic file writes: the one way fastrnn writes a file a user keeps.

The data goes to a temporary file in the target's directory, is flushed to
disk, and is renamed over the target (``os.replace``, atomic on POSIX and
Windows), so a crash or an error mid-write leaves the old file or the new
one, never a torn one, and concurrent writers leave one complete file.
"""
import os
import tempfile


def fsync_directory(directory):
    """Make a rename in ``directory`` durable; not possible (nor needed) on
    every platform, so failures are ignored."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path, write, *, text=False):
    """Call ``write(file)`` on a temporary file, then rename it to ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The target; replaced if it exists.
    write : callable
        Writes the whole content to the open file it is given.
    text : bool
        Open the temporary file in text mode (newline="") instead of binary.

    Raises whatever ``write`` or the file system raises (``OSError`` for a
    missing directory or a full disk), after removing the temporary file.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "w" if text else "wb", **({"newline": ""} if text else {})) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_directory(directory)
