"""Lock files: two processes never train the same fit or write the same results file at once.

Run folders are shared between processes (two ``neurosim run`` invocations with the same
``--out``, SLURM jobs on a shared file system), so work on one fit or on ``results.nc`` is guarded
by a :class:`FileLock` on a lock file next to it.

How it works:

* **Mutual exclusion** is ``fcntl.flock(fd, LOCK_EX | LOCK_NB)`` on the lock file. A flock belongs
  to the open file description, so two :class:`FileLock` objects on one path exclude each other
  even inside one process (and across threads).
* **Stale-lock recovery** is the kernel's: a flock is released when its holder's file descriptor
  is closed, which happens when the holder dies, also by ``kill -9`` or an out-of-memory kill. A
  dead holder therefore never blocks anyone; its description in the file is simply overwritten by
  the next holder. No heartbeat or pid check is needed (and a pid would be meaningless on another
  host anyway).
* **Holder description**: after acquiring, the holder writes one line of JSON into the file,
  ``{"pid": ..., "host": ..., "started": <ISO time, UTC>, "what": <label>}``, so that a waiting
  process can say who it waits for (:meth:`FileLock.holder`). The description is informational
  only: it never decides who holds the lock.
* **Removal on release**: the holder deletes the lock file before unlocking it, so finished run
  folders have no leftover lock files. Deleting races with processes that opened the file just
  before: they may then lock the deleted inode while a third process locks a new file at the same
  path. Acquisition is therefore checked: after the flock succeeds, the locked file must still be
  linked (``st_nlink > 0``) and ``path`` must still name the same inode (``st_dev``/``st_ino``);
  otherwise the descriptor is closed and acquisition is retried.
* Lock files are created with mode ``0o666`` filtered by the process umask, like other results
  files, and their parent folder is created when missing.

Caveats:

* **Network file systems.** On Linux NFS clients ``flock`` is emulated with POSIX byte-range locks
  on the server, so it excludes across hosts, unless the file system is mounted with ``nolock``
  or ``local_lock=flock|all`` (then locks are local to each host). NFSv3 needs the lock manager
  (``lockd``/``statd``) running. Other cluster file systems vary: Lustre needs the ``flock`` mount
  option (``localflock`` is per host), BeeGFS has global locks off by default
  (``tuneUseGlobalFileLocks``); a file system without lock support raises ``OSError`` (``ENOLCK``,
  ``EOPNOTSUPP``). NFS attribute caching makes the inode check above best effort across hosts,
  and a lock file deleted while another process on the same client still has it open shows up
  briefly as a ``.nfsXXXX`` file until that process retries.
* **fork without exec** (``multiprocessing`` with the fork start method, data-loader workers)
  shares the open file description, and with it the lock: it is released only when every copy is
  closed. File descriptors are not inherited across ``exec``.
* **Platforms without fcntl** (Windows): the lock degrades to a no-op that always succeeds and
  writes no file; one warning is logged per process. Use one process per run folder there.
* One :class:`FileLock` object is not re-entrant and not meant to be shared between threads; use
  one object per thread.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover - exercised on Windows only (and by a test that patches it)
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

#: The least number of seconds between two ``on_wait`` calls of :meth:`FileLock.acquire`.
WAIT_REPORT_SECONDS = 60.0

#: How often :meth:`FileLock.try_acquire` retries when the lock file was replaced under it.
_MAX_REPLACED_RETRIES = 100

_warned_no_fcntl = False


@dataclass(frozen=True)
class LockHolder:
    """The process that holds (or last held) a lock, as written in the lock file.

    Attributes:
        pid: Process id of the holder on its host.
        host: ``socket.gethostname()`` of the holder.
        started: When the holder acquired the lock, ISO 8601 in UTC.
        what: What the holder does under the lock (a free-form label).
    """

    pid: int
    host: str
    started: str
    what: str

    def describe(self) -> str:
        """Return e.g. ``"pid 123 on host node7 since 2026-12-03T10:00:00+00:00"``."""
        return f"pid {self.pid} on host {self.host} since {self.started}"

    def to_json(self) -> str:
        """Return the one-line JSON form written into lock files (with a trailing newline)."""
        record = {"pid": self.pid, "host": self.host, "started": self.started, "what": self.what}
        return json.dumps(record) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LockHolder | None:
        """Parse :meth:`to_json` output; ``None`` if ``text`` is empty, partial or malformed."""
        try:
            record = json.loads(text)
            pid, host, started, what = record["pid"], record["host"], record["started"], record["what"]
        except (ValueError, TypeError, KeyError):
            return None
        if not (isinstance(pid, int) and not isinstance(pid, bool)):
            return None
        if not all(isinstance(value, str) for value in (host, started, what)):
            return None
        return cls(pid=pid, host=host, started=started, what=what)


def _warn_no_fcntl() -> None:
    global _warned_no_fcntl
    if not _warned_no_fcntl:
        _warned_no_fcntl = True
        log.warning(
            "file locking is not available on this platform (no fcntl): locks are no-ops, so do not "
            "run two processes on the same run folder"
        )


class FileLock:
    """An exclusive, non-re-entrant lock on ``path``, held by at most one process at a time.

    Usable as a context manager (``with FileLock(path, "train mlp seed 0"):``), which waits for
    the lock without a time limit and releases it on exit.

    Args:
        path: The lock file, e.g. ``fits/<member>/seed<k>.lock``. Missing parent folders are
            created on acquisition.
        what: A label for what the holder does, shown to processes that wait.
    """

    def __init__(self, path: Path, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self._fd: int | None = None
        self._noop_held = False

    def __repr__(self) -> str:
        return f"FileLock({str(self.path)!r}, {self.what!r}, held={self.held})"

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None or self._noop_held

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it, without waiting.

        Returns:
            True if this object now holds the lock, False if another holder has it.

        Raises:
            RuntimeError: If this object already holds the lock (locks are not re-entrant).
            OSError: If the lock file cannot be created or the file system does not support locks.
        """
        if self.held:
            raise RuntimeError(f"{self!r} is already held by this object (locks are not re-entrant)")
        if fcntl is None:
            _warn_no_fcntl()
            self._noop_held = True
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(_MAX_REPLACED_RETRIES):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
            try:
                locked = self._lock(fd)
                current = locked and self._is_current(fd)
            except BaseException:
                os.close(fd)
                raise
            if current:
                self._fd = fd
                self._write_holder(fd)
                return True
            os.close(fd)
            if not locked:
                return False
            # We locked a file that its previous holder deleted (or that was replaced) after we
            # opened it; the lock that counts is the one on the file now at ``path``.
            log.debug("lock file %s was replaced while we waited for it; retrying", self.path)
        raise OSError(
            errno.EAGAIN, f"lock file was replaced {_MAX_REPLACED_RETRIES} times in a row", str(self.path)
        )

    def acquire(
        self,
        poll_seconds: float = 2.0,
        on_wait: Callable[[LockHolder | None], None] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Wait until the lock is free and take it.

        Args:
            poll_seconds: Seconds between two attempts.
            on_wait: Called with the current holder (``None`` if unknown) when this call first has
                to wait, then again at most every ``WAIT_REPORT_SECONDS`` (60 s) while it waits,
                e.g. to print "waiting for ...".
            timeout: Give up after this many seconds; ``None`` waits forever.

        Raises:
            TimeoutError: If the lock is still held by another after ``timeout`` seconds.
            ValueError: If ``poll_seconds`` is not positive.
        """
        if poll_seconds <= 0:
            raise ValueError(f"poll_seconds must be positive, not {poll_seconds}")
        deadline = None if timeout is None else time.monotonic() + timeout
        last_report: float | None = None
        while not self.try_acquire():
            now = time.monotonic()
            if last_report is None or now - last_report >= WAIT_REPORT_SECONDS:
                last_report = now
                holder = self.holder()
                log.debug(
                    "waiting for lock %s held by %s", self.path, holder.describe() if holder else "unknown"
                )
                if on_wait is not None:
                    on_wait(holder)
            if deadline is not None and now >= deadline:
                holder = self.holder()
                by = f" by {holder.describe()} ({holder.what})" if holder else ""
                raise TimeoutError(f"lock {self.path} still held{by} after {timeout} s")
            sleep = poll_seconds if deadline is None else min(poll_seconds, deadline - now)
            time.sleep(max(sleep, 0.0))

    def release(self) -> None:
        """Delete the lock file and release the lock; does nothing if this object does not hold it."""
        if self._noop_held:
            self._noop_held = False
            return
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            # Delete while still locked: whoever opened this file meanwhile finds it unlinked once it
            # gets the flock, and retries on the path. Only delete the path if it is still our file
            # (it can differ only if someone removed it by hand).
            if self._is_current(fd):
                self.path.unlink()
        except OSError as error:
            log.warning("could not remove lock file %s: %s", self.path, error)
        finally:
            os.close(fd)  # releases the flock

    def holder(self) -> LockHolder | None:
        """Read who holds the lock from the file, without locking.

        Returns:
            The holder written in the lock file; ``None`` if the file is absent, empty, partially
            written or unreadable. Between holders the file may still describe a holder that died.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        return LockHolder.from_json(text)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def _lock(self, fd: int) -> bool:
        """``flock`` ``fd`` exclusively without blocking; False if another holds it."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as error:
            if error.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                raise OSError(
                    error.errno,
                    f"cannot lock {self.path}: the file system does not support flock "
                    f"({os.strerror(error.errno)}); on NFS check the lock manager and mount options",
                ) from error
            raise
        return True

    def _is_current(self, fd: int) -> bool:
        """Whether ``fd`` is still linked and is the file that ``self.path`` names."""
        try:
            opened = os.fstat(fd)
            named = os.stat(self.path)
        except FileNotFoundError:
            return False
        except OSError as error:
            if error.errno == errno.ESTALE:  # NFS: the file was deleted on the server
                return False
            raise
        return opened.st_nlink > 0 and (opened.st_dev, opened.st_ino) == (named.st_dev, named.st_ino)

    def _write_holder(self, fd: int) -> None:
        """Replace the file's content by a description of this process."""
        holder = LockHolder(
            pid=os.getpid(),
            host=socket.gethostname(),
            started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            what=self.what,
        )
        data = holder.to_json().encode("utf-8")
        try:
            os.ftruncate(fd, 0)
            written = 0
            while written < len(data):
                written += os.pwrite(fd, data[written:], written)
            os.fsync(fd)  # so that readers on other hosts (NFS) see it
        except OSError as error:  # the description is informational: never fail the lock for it
            log.warning("could not write holder information to lock file %s: %s", self.path, error)
