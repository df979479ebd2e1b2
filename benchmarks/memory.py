"""Resident memory of a process from /proc (Linux): now (VmRSS) and its peak so far (VmHWM),
in MB, its child processes included (none of the services forks today, but uvicorn could)."""

from __future__ import annotations

import os
from pathlib import Path

KB_PER_MB = 1024


def status_kb(text: str, field: str) -> int:
    """A `/proc/<pid>/status` field in kB (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """VmRSS (now) or VmHWM (peak) of `pid` and its descendants; 0 when it has exited."""
    try:
        own = status_kb(Path(f"/proc/{pid}/status").read_text(), field)
    except OSError:
        return 0.0
    return own / KB_PER_MB + sum(rss_mb(child, field) for child in _children(pid))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds `pid` and its live descendants have used (/proc/<pid>/stat);
    0 when it has exited. The CPU an answer costs travels better than a rate on a machine
    shared with other work: it does not shrink when the cores are busy elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return own + sum(cpu_seconds(child) for child in _children(pid))


def largest_process_mb(pid: int, field: str = "VmRSS") -> float:
    """The largest VmRSS (or VmHWM) of one process among `pid` and its descendants: the memory
    target is per process, and a service may be several (DISPUTE_HTTP_WORKERS)."""
    try:
        own = status_kb(Path(f"/proc/{pid}/status").read_text(), field) / KB_PER_MB
    except OSError:
        return 0.0
    return max([own, *(largest_process_mb(child, field) for child in _children(pid))])
