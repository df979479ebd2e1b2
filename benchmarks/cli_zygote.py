"""A fork server for disputectl, so that a replay step costs its own work and not a Python
start-up: this process imports the CLI's modules once (about 1.4 CPU seconds, which nine runs
of make bench-quick's replay phase each paid), then forks one child per run. The child runs
the real CLI (`services.dispute.entrypoints.cli` as `__main__`, the given argv), its stdout and
stderr in files, and leaves in its `hwm` file its own peak RSS (VmHWM, the larger of its own
and its replay workers') and its CPU seconds (its clock starts at the fork; workers added).
A forked child's VmHWM counts the imported modules' pages as a process started afresh would:
the anonymous ones are its own from the fork, and the file-backed ones (the interpreter's and
the extension modules' code, some 20 MB, which fork leaves out of the child's page tables until
touched) are touched again, exactly those this server had in memory (`resident_file_pages`).

    python -m benchmarks.cli_zygote     # one JSON request a line on stdin, one answer a line out
    {"args": [...], "stdout": PATH, "stderr": PATH, "hwm": PATH}  ->  {"code": EXIT_CODE}

`CliForks` (below) is the benchmark's side of it.
"""

from __future__ import annotations

import atexit
import ctypes
import glob
import json
import os
import resource
import runpy
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Mapping, NoReturn

CLI = "services.dispute.entrypoints.cli"
ROOT = Path(__file__).resolve().parents[1]


def _kb(pid: int | str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return int(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
    except (OSError, StopIteration):
        return 0


def _watch_workers(peak: list[int]) -> None:
    """The replay workers' own peaks (VmHWM of each, sampled while they live: their rusage
    would count this process's pages from before their exec)."""
    while True:
        for children in glob.glob("/proc/self/task/*/children"):
            for pid in open(children).read().split():
                peak[0] = max(peak[0], _kb(pid))
        time.sleep(0.1)


PAGE = os.sysconf("SC_PAGE_SIZE")
PRESENT = 1 << 63  # of a /proc/<pid>/pagemap entry


def resident_file_pages() -> list[int]:
    """The addresses of this process's pages of readable file mappings that are in its page
    tables now (/proc/self/pagemap: the "present" bit is readable without privileges)."""
    pages: list[int] = []
    with open("/proc/self/maps") as maps, open("/proc/self/pagemap", "rb") as pagemap:
        for line in maps:
            fields = line.split()
            if len(fields) < 6 or not fields[5].startswith("/") or not fields[1].startswith("r"):
                continue
            start, end = (int(edge, 16) for edge in fields[0].split("-"))
            pagemap.seek(start // PAGE * 8)
            entries = pagemap.read((end - start) // PAGE * 8)
            pages += [start + n * PAGE for n in range(len(entries) // 8)
                      if int.from_bytes(entries[n * 8:n * 8 + 8], "little") & PRESENT]
    return pages


def touch(pages: list[int]) -> None:
    for address in pages:
        ctypes.string_at(address, 1)


def _redirect(fd: int, path: str, flags: int) -> None:
    target = os.open(path, flags, 0o644)
    os.dup2(target, fd)
    os.close(target)


def _exit_code(code: object) -> int:
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)  # SystemExit("message"), as the interpreter would
    return 1


def child(request: Mapping, file_pages: list[int]) -> NoReturn:
    touch(file_pages)  # before the clock matters: this process's CPU is read against a start-up's
    _redirect(0, os.devnull, os.O_RDONLY)
    _redirect(1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    _redirect(2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    workers_peak = [0]
    threading.Thread(target=_watch_workers, args=(workers_peak,), daemon=True).start()
    code = 0
    try:
        sys.argv = ["disputectl", *request["args"]]
        sys.modules.pop(CLI, None)  # imported here already: run afresh as __main__, as `-m` would
        runpy.run_module(CLI, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = _exit_code(exit_.code)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        atexit._run_exitfuncs()  # the CLI's own, as at a normal exit
        sys.stdout.flush()
        sys.stderr.flush()
        workers = resource.getrusage(resource.RUSAGE_CHILDREN)  # ended by now: their CPU
        Path(request["hwm"]).write_text(f"{max(_kb('self'), workers_peak[0])} "
                                        f"{time.process_time() + workers.ru_utime + workers.ru_stime}")
        os._exit(code)


def serve() -> None:
    __import__(CLI)  # the imports every run shares, done once
    file_pages = resident_file_pages()
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            child(request, file_pages)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"code": os.waitstatus_to_exitcode(status)}), flush=True)


class CliForks:
    """The fork server as a child of the benchmark, with `env` (the store's URL, the log level)."""

    def __init__(self, env: Mapping[str, str]):
        self.process = subprocess.Popen([sys.executable, "-m", "benchmarks.cli_zygote"], cwd=ROOT,
                                        env=dict(env), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)

    def run(self, args: list[str], folder: Path) -> tuple[int, str, str, str]:
        """(exit code, stdout, stderr, the hwm file's text) of disputectl `args`."""
        paths = {name: str(folder / name) for name in ("stdout", "stderr", "hwm")}
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"args": args, **paths}) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"the disputectl fork server exited ({self.process.wait()})")
        hwm = Path(paths["hwm"])
        return (json.loads(answer)["code"], Path(paths["stdout"]).read_text(), Path(paths["stderr"]).read_text(),
                hwm.read_text() if hwm.exists() else "")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> "CliForks":
        return self

    def __exit__(self, *_) -> None:
        self.close()


if __name__ == "__main__":
    serve()
