"""Worker processes started before the command line loads.

A cold run spent its first fifth in one process: Python starting, the command line
importing itself (click, the settings), finding the files, then loading LibCST and the
analysis (0.14 s on pytorch/examples' machine) before the workers forked.  Started at
the very beginning instead (`launch.py`), the first worker loads the analysis while the
command line starts, then forks the others from itself, so that they share what it
imported; the command line itself never loads LibCST.  One run uses them (`runner`), then
they are closed; a run that needs no analysis (everything cached) closes them unused.

Linux only (it forks before any thread exists); elsewhere, and for commands other than a
check, the runner starts its process pool as before.

The protocol is a pair of pipes per worker: the parent writes a task (a chunk of jobs,
the rule codes, the options), the worker answers with what `runner._work` returns, each a
length-prefixed pickle between two processes of the same program.  A worker takes its
next task only after answering, so neither side can block the other on a full pipe.  The
end of a task pipe (the parent closing it, or exiting) ends the worker.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import select
import signal
import struct
import sys
from collections import deque
from typing import Any, Iterator, Optional

_HEADER = struct.Struct("!Q")

_prestarted: Optional[Prestarted] = None


class WorkerDied(Exception):
    """A worker process ended without answering (killed, out of memory, a crash)."""


class Prestarted:
    """The parent's side: one task pipe (written) and one result pipe (read) per
    worker, and the first worker's pid (the others are its children)."""

    def __init__(self, count: int, pid: int, tasks: list[int], results: list[int]) -> None:
        self.count = count
        self.pid = pid
        self.tasks = tasks
        self.results = results
        # workers not known to have died (a later pass gives the dead ones nothing)
        self.alive = set(range(count))

    def map(self, chunks: list[Any], codes: list[str], options: dict) -> Iterator[Any]:
        """What `runner._work` gives for each chunk, in the chunks' order; a chunk whose
        worker died gives `WorkerDied` (the runner reports its files)."""
        todo = deque(range(len(chunks)))
        busy: dict[int, int] = {}  # worker -> chunk
        done: dict[int, Any] = {}
        following = 0

        def give(worker: int) -> None:
            if not todo:
                return
            index = todo.popleft()
            try:
                _send(self.tasks[worker], (chunks[index], codes, options))
            except OSError:  # the worker is gone: another one takes the chunk
                todo.appendleft(index)
                self.alive.discard(worker)
                return
            busy[worker] = index

        for worker in sorted(self.alive):
            give(worker)
        while following < len(chunks):
            while following in done:
                yield done.pop(following)
                following += 1
            if following >= len(chunks):
                break
            if not busy:
                # no worker left: what remains is reported as their files' errors
                for index in todo:
                    done[index] = WorkerDied()
                todo.clear()
                continue
            by_fd = {self.results[w]: w for w in busy}
            ready, _, _ = select.select(list(by_fd), [], [])
            for fd in ready:
                worker = by_fd[fd]
                index = busy.pop(worker)
                try:
                    done[index] = _receive(fd)
                except (OSError, EOFError, pickle.UnpicklingError):
                    done[index] = WorkerDied()
                    self.alive.discard(worker)
                    continue
                give(worker)

    def close(self) -> None:
        """End the workers: each sees the end of its task pipe and exits."""
        _close(*self.tasks, *self.results)
        self.tasks, self.results = [], []
        with contextlib.suppress(OSError):
            os.waitpid(self.pid, os.WNOHANG)


def start(count: int) -> None:
    """Fork the first of `count` workers now (it starts the others once it has loaded
    the analysis); does nothing where it cannot or need not."""
    global _prestarted
    if _prestarted is not None or count < 2 or not sys.platform.startswith("linux"):
        return
    pipes = [(os.pipe(), os.pipe()) for _ in range(count)]  # (task, result) per worker
    try:
        pid = os.fork()
    except OSError:
        for (a, b), (c, d) in pipes:
            _close(a, b, c, d)
        return
    if pid == 0:
        _first_worker(pipes)  # never returns
    tasks, results = [], []
    for (task_read, task_write), (result_read, result_write) in pipes:
        os.close(task_read)
        os.close(result_write)
        tasks.append(task_write)
        results.append(result_read)
    _prestarted = Prestarted(count, pid, tasks, results)


def take(workers: int) -> Optional[Prestarted]:
    """The started workers, once, for a run that wants `workers` (0: one per core)."""
    global _prestarted
    pool, _prestarted = _prestarted, None
    if pool is None:
        return None
    if workers not in (0, pool.count):
        pool.close()
        return None
    return pool


def _first_worker(pipes: list[tuple[tuple[int, int], tuple[int, int]]]) -> None:
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        # this worker's own pipe ends stay open until the others have forked
        for (_, task_write), (result_read, _) in pipes:
            _close(task_write, result_read)
        gc.disable()  # the imports make objects, not garbage: 0.01 s less to load
        import devlint.checker
        import devlint.rules  # noqa: F401
        from devlint import runner

        runner.tune_gc()  # freezes what the imports made: the children share it
        gc.enable()
        children = []
        for index in range(1, len(pipes)):
            pid = os.fork()
            if pid == 0:
                _close_others(pipes, index)
                _serve(pipes[index][0][0], pipes[index][1][1])
                os._exit(0)
            children.append(pid)
        _close_others(pipes, 0)
        _serve(pipes[0][0][0], pipes[0][1][1])
        for pid in children:
            os.waitpid(pid, 0)
    except BaseException:  # a worker never prints a traceback over the parent's output
        code = 1
    os._exit(code)


def _close_others(pipes: list[tuple[tuple[int, int], tuple[int, int]]], keep: int) -> None:
    for index, ((task_read, _), (_, result_write)) in enumerate(pipes):
        if index != keep:
            _close(task_read, result_write)


def _close(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _serve(task_fd: int, result_fd: int) -> None:
    from devlint import runner

    while True:
        try:
            task = _receive(task_fd)
        except EOFError:
            return
        _send(result_fd, runner._work(task))


def _send(fd: int, value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _receive(fd: int) -> Any:
    size = _HEADER.unpack(_read(fd, _HEADER.size))[0]
    return pickle.loads(_read(fd, size))


def _read(fd: int, size: int) -> bytes:
    parts = []
    while size:
        part = os.read(fd, min(size, 1 << 20))
        if not part:
            raise EOFError
        parts.append(part)
        size -= len(part)
    return b"".join(parts)
