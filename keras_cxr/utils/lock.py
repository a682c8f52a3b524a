"""An exclusive lock on a directory, so two processes never write the same run.

The lock is an ``flock`` on ``DIR/.lock``: the operating system releases it
when the holder exits, even on SIGKILL, so a killed run never leaves a stale
lock behind. The file records who holds it (pid, host, command, start time) so
the second process can say which one to wait for.
"""

import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path

from keras_cxr.errors import KerasCxrError

LOCK_FILE = ".lock"


class DirectoryLockedError(KerasCxrError):
    """Another live process holds the directory's lock."""


def _holder_description(path):
    try:
        holder = json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        holder = {}
    if not holder:
        return "another process"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
    return (f"process {holder.get('pid')} on {holder.get('host')} (started {started}: "
            f"{holder.get('command', '?')})")


@contextlib.contextmanager
def directory_lock(directory, what="run directory"):
    """Hold an exclusive lock on ``directory`` for the ``with`` block; raise if another process has it."""
    import fcntl

    path = Path(directory) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DirectoryLockedError(
                f"{directory} is in use: this {what} is locked by {_holder_description(path)}. "
                "Wait for it to finish, stop it, or choose another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                                 "command": " ".join(sys.argv)[:300]}))
        handle.flush()
        yield path
    finally:
        handle.close()  # closing the descriptor releases the flock
