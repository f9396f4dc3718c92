"""The lock file that keeps two processes from training the same fit (issue #20)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from neurosim.results import lock as lock_module
from neurosim.results.lock import FileLock, LockHolder

LOCK_SOURCE = Path(lock_module.__file__).resolve()

# Loads lock.py by path so that the child does not pay for importing torch via neurosim.results.
CHILD = """
import importlib.util, sys, time
from pathlib import Path
spec = importlib.util.spec_from_file_location("lock_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
lock = module.FileLock(Path(sys.argv[2]), "child")
assert lock.try_acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_two_objects_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    path = tmp_path / "seed0.lock"
    first, second = FileLock(path, "first"), FileLock(path, "second")
    assert first.try_acquire()
    assert first.held
    assert not second.try_acquire()
    assert not second.held
    first.release()
    assert not first.held
    assert second.try_acquire()
    assert not first.try_acquire()
    second.release()


def test_holder_names_this_process(tmp_path: Path) -> None:
    path = tmp_path / "seed0.lock"
    with FileLock(path, "train mlp seed 0") as held:
        assert held.held
        holder = FileLock(path, "reader").holder()
        assert holder is not None
        assert holder.pid == os.getpid()
        assert holder.host == socket.gethostname()
        assert holder.what == "train mlp seed 0"
        assert holder.started.endswith("+00:00")
        assert holder.describe() == f"pid {os.getpid()} on host {socket.gethostname()} since {holder.started}"


def test_holder_is_none_when_absent_or_partial(tmp_path: Path) -> None:
    path = tmp_path / "seed0.lock"
    assert FileLock(path, "x").holder() is None
    path.write_text("")
    assert FileLock(path, "x").holder() is None
    path.write_text('{"pid": 12, "host": "node7"')
    assert FileLock(path, "x").holder() is None
    path.write_text('{"pid": "12", "host": "node7", "started": "s", "what": "w"}')
    assert FileLock(path, "x").holder() is None
    path.write_text(LockHolder(12, "node7", "2026-12-03T10:00:00+00:00", "w").to_json())
    holder = FileLock(path, "x").holder()
    assert holder == LockHolder(12, "node7", "2026-12-03T10:00:00+00:00", "w")
    assert holder.describe() == "pid 12 on host node7 since 2026-12-03T10:00:00+00:00"


def test_lock_held_by_killed_process_is_recovered(tmp_path: Path) -> None:
    path = tmp_path / "fits" / "mlp" / "seed0.lock"  # parents do not exist yet
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(LOCK_SOURCE), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == "locked", child.stderr.read() if child.stderr else ""
        ours = FileLock(path, "parent")
        assert not ours.try_acquire()
        holder = ours.holder()
        assert holder is not None
        assert (holder.pid, holder.what) == (child.pid, "child")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert path.exists()  # a killed holder leaves its file behind ...
        assert ours.try_acquire()  # ... but not its lock
        holder = ours.holder()
        assert holder is not None
        assert (holder.pid, holder.what) == (os.getpid(), "parent")
        ours.release()
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=10)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


def test_release_deletes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "seed0.lock"
    lock = FileLock(path, "x")
    with lock:
        assert path.exists()
    assert not lock.held
    assert not path.exists()
    lock.release()  # releasing again does nothing
    assert list(tmp_path.iterdir()) == []


def test_lock_on_a_deleted_file_does_not_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """B opens the file, A releases and deletes it, C creates a new one: B must not hold too."""
    path = tmp_path / "seed0.lock"
    a, b, c = FileLock(path, "a"), FileLock(path, "b"), FileLock(path, "c")
    assert a.try_acquire()
    real_flock = lock_module.fcntl.flock
    armed = [True]

    def racing_flock(fd: int, operation: int) -> None:
        # Runs when B has opened A's file and is about to lock it.
        if armed[0]:
            armed[0] = False
            a.release()
            assert c.try_acquire()
        real_flock(fd, operation)

    monkeypatch.setattr(lock_module.fcntl, "flock", racing_flock)
    assert not b.try_acquire()
    assert not armed[0]  # the race did happen
    assert c.held
    assert not b.held
    assert FileLock(path, "d").holder().what == "c"
    c.release()
    assert b.try_acquire()
    b.release()


def test_racing_threads_never_hold_together(tmp_path: Path) -> None:
    """Smoke test under contention; the delete/re-create race itself is forced in the test above."""
    path = tmp_path / "seed0.lock"
    holders: list[str] = []
    overlaps: list[list[str]] = []
    guard = threading.Lock()

    def worker(name: str) -> None:
        for _ in range(40):
            lock = FileLock(path, name)
            if not lock.try_acquire():
                continue
            with guard:
                holders.append(name)
                if len(holders) > 1:
                    overlaps.append(list(holders))
            time.sleep(0.0005)
            with guard:
                holders.remove(name)
            lock.release()

    threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []
    assert not path.exists()


def test_acquire_times_out_and_reports_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "seed0.lock"
    waits: list[LockHolder | None] = []
    with FileLock(path, "train mlp seed 0"):
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="still held by pid"):
            FileLock(path, "second").acquire(poll_seconds=0.05, on_wait=waits.append, timeout=0.3)
        elapsed = time.monotonic() - start
    assert 0.3 <= elapsed < 2.0
    assert len(waits) == 1  # once on first waiting, then at most every 60 s
    assert waits[0] is not None
    assert (waits[0].pid, waits[0].what) == (os.getpid(), "train mlp seed 0")


def test_acquire_waits_until_released(tmp_path: Path) -> None:
    path = tmp_path / "seed0.lock"
    first = FileLock(path, "first")
    assert first.try_acquire()
    releaser = threading.Timer(0.2, first.release)
    releaser.start()
    second = FileLock(path, "second")
    try:
        second.acquire(poll_seconds=0.02, timeout=5)
        assert second.held
        assert not first.held
        assert second.holder().what == "second"
    finally:
        releaser.join()
        second.release()


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664)])
def test_lock_file_mode_follows_umask(tmp_path: Path, umask: int, mode: int) -> None:
    path = tmp_path / "seed0.lock"
    previous = os.umask(umask)
    try:
        lock = FileLock(path, "x")
        assert lock.try_acquire()
    finally:
        os.umask(previous)
    try:
        assert path.stat().st_mode & 0o777 == mode
    finally:
        lock.release()


def test_without_fcntl_the_lock_is_a_noop_that_warns_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(lock_module, "fcntl", None)
    monkeypatch.setattr(lock_module, "_warned_no_fcntl", False)
    path = tmp_path / "seed0.lock"
    first, second = FileLock(path, "first"), FileLock(path, "second")
    with caplog.at_level(logging.WARNING, logger=lock_module.__name__):
        assert first.try_acquire()
        assert second.try_acquire()
    assert first.held and second.held
    assert len(caplog.records) == 1
    assert "not available" in caplog.records[0].getMessage()
    assert not path.exists()
    first.release()
    second.release()
    assert not first.held


def test_not_reentrant(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "seed0.lock", "x")
    with lock, pytest.raises(RuntimeError, match="re-entrant"):
        lock.try_acquire()
