"""Where the machine's CPU went during a phase: each service process (with its children),
PostgreSQL (the postmaster and its backends), the Kafka broker, and the whole machine
(/proc/stat: every process, the load generator and the kernel included). A rate alone does
not say which process to make cheaper; CPU milliseconds per answered request does, and it
travels better than a rate on a shared machine."""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.memory import cpu_seconds


def machine_busy_seconds() -> float:
    """CPU seconds every core spent not idle (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((Path(data_dir) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class CpuSplit:
    """Sample before and after a phase; `per_request` gives milliseconds per answered request."""

    def __init__(self, pids: dict[str, int | None]):
        self.pids = {name: pid for name, pid in pids.items() if pid}
        self.before = self._sample()

    def _sample(self) -> dict[str, float]:
        sample = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        sample["machine"] = machine_busy_seconds()
        return sample

    def per_request(self, answered: int) -> dict[str, float]:
        after = self._sample()
        split = {name: (after[name] - self.before[name]) * 1000 / max(1, answered) for name in after}
        split["other"] = split["machine"] - sum(v for k, v in split.items() if k != "machine")
        return {name: round(ms, 3) for name, ms in split.items()}
