"""The benchmark's waits that decide when a phase is done (pure rules, no waiting here), and
the disputectl fork server that runs the replay phase's CLI steps (a real CLI run each)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.cli_zygote import CliForks
from benchmarks.settle import Settled, Stillness, behind_text, done_growing, hopeless

ROOT = Path(__file__).resolve().parents[2]


def test_a_reading_is_quiet_for_the_time_since_it_last_changed():
    stillness = Stillness()
    assert stillness.unchanged_for((5, 3), now=10.0) == 0
    assert stillness.unchanged_for((5, 3), now=10.6) == pytest.approx(0.6)
    assert stillness.unchanged_for((6, 3), now=11.0) == 0  # the store grew: the clock starts again
    assert stillness.unchanged_for((6, 4), now=11.2) == 0  # and the relay published
    assert stillness.unchanged_for((6, 4), now=12.5) == pytest.approx(1.3)


def test_a_topic_that_holds_the_whole_store_is_done_sooner_than_one_that_merely_stopped():
    assert not done_growing(2446, quiet=0.6, at_least=1, quiet_for=3.0)
    assert done_growing(2446, quiet=0.6, at_least=1, quiet_for=3.0, expected=2446, expected_quiet_for=0.5)
    assert not done_growing(2446, quiet=0.4, at_least=1, quiet_for=3.0, expected=2446, expected_quiet_for=0.5)
    # fewer records than expected (a store whose events are not all public): the long rule
    assert not done_growing(2000, quiet=2.9, at_least=1, quiet_for=3.0, expected=2446, expected_quiet_for=0.5)
    assert done_growing(2000, quiet=3.0, at_least=1, quiet_for=3.0, expected=2446, expected_quiet_for=0.5)
    assert not done_growing(0, quiet=10.0, at_least=1, quiet_for=3.0)  # nothing published yet


def test_a_consumer_wait_is_cut_once_the_backlog_cannot_drain_in_the_time_left():
    # 940 records drained by 80 in 2 s (40/s): 21.5 s more, 8 s left
    assert hopeless(940, 860, watched=2.0, left=8.0)
    # 400 drained by 80 in 2 s: 8 s more, 8 s left: worth waiting for
    assert not hopeless(400, 320, watched=2.0, left=8.0)
    assert not hopeless(940, 900, watched=1.0, left=9.0)  # too soon to judge the pace
    assert hopeless(500, 500, watched=2.5, left=7.5)  # not draining at all
    assert not hopeless(500, 0, watched=2.5, left=7.5)  # done


def test_what_a_settle_left_behind_names_only_the_groups_behind():
    assert behind_text({"notification": 1577, "refund": 0}) == "notification 1,577 records"
    assert Settled(3.2).busy is None and Settled(3.2).behind == {}


@pytest.fixture
def forks(tmp_path):
    env = {**os.environ, "DISPUTE_DATABASE_URL": f"sqlite:///{tmp_path}/dispute.sqlite",
           "DISPUTE_LOG_LEVEL": "WARNING"}
    with CliForks(env) as server:
        yield server


def test_the_fork_server_runs_the_real_cli_with_its_output_exit_code_and_peak_memory(forks, tmp_path):
    code, stdout, _, hwm = forks.run(["projections", "--help"], tmp_path)
    assert code == 0 and "rebuild" in stdout
    kb, cpu = hwm.split()
    assert int(kb) > 10_000 and float(cpu) >= 0
    code, _, stderr, _ = forks.run(["projections", "no-such-command"], tmp_path)
    assert code == 2 and "no-such-command" in stderr  # click's usage error, as from a shell


def test_a_forked_run_counts_the_memory_a_fresh_process_of_the_cli_would(forks, tmp_path):
    """fork leaves the shared libraries' pages out of the child's page tables: without touching
    them again a forked step's peak RSS was ~20 MB under a fresh process's."""
    fresh = subprocess.run(
        [sys.executable, "-c", "import atexit, runpy, sys\n"
         "atexit.register(lambda: print(next(l.split()[1] for l in open('/proc/self/status')"
         " if l.startswith('VmHWM')), file=sys.stderr))\n"
         "sys.argv = ['disputectl', 'projections', '--help']\n"
         "runpy.run_module('services.dispute.entrypoints.cli', run_name='__main__', alter_sys=True)"],
        cwd=ROOT, env={**os.environ, "DISPUTE_DATABASE_URL": f"sqlite:///{tmp_path}/dispute.sqlite"},
        capture_output=True, text=True, check=True)
    fresh_kb = int(fresh.stderr.split()[-1])
    _, _, _, hwm = forks.run(["projections", "--help"], tmp_path)
    forked_kb = int(hwm.split()[0])
    assert abs(forked_kb - fresh_kb) <= 0.05 * fresh_kb, (forked_kb, fresh_kb)


def test_each_order_is_known_by_the_partition_and_offset_of_its_last_record():
    from types import SimpleNamespace as Published

    from benchmarks.workload import last_records

    orders = ["O-1", "O-1", "O-2", "O-2"]
    published = [Published(partition=3, offset=10), Published(partition=3, offset=12),
                 Published(partition=0, offset=4), Published(partition=0, offset=5)]
    assert last_records(orders, published) == {"O-1": (3, 12), "O-2": (0, 5)}
    with pytest.raises(ValueError):
        last_records(orders, published[:3])  # one record's position unknown: refused, not guessed


class Committing:
    """A probe whose group commits one more record of partition 0 at every look."""

    def __init__(self):
        self.looks = 0

    async def committed(self, group):
        self.looks += 1
        return {0: self.looks, 1: 0}


def test_an_open_waits_until_the_dispute_service_committed_past_its_order():
    import asyncio

    from benchmarks.settle import GroupProgress

    async def scenario():
        probe = Committing()
        async with GroupProgress(probe, "dispute", timeout=60) as progress:
            await progress.read(0, 2)  # committed 3 = the next to read: offset 2 was read
            looks_then = probe.looks
            assert not progress.past(1, 0)  # nothing of partition 1 read yet
        return looks_then

    assert asyncio.run(scenario()) >= 3


def test_after_its_timeout_an_open_goes_on_as_if_the_order_were_read():
    import asyncio

    from benchmarks.settle import GroupProgress

    async def scenario():
        async with GroupProgress(Committing(), "dispute", timeout=0) as progress:
            await progress.read(1, 0)  # partition 1 never committed: the wait ends all the same
            return progress.past(1, 0)

    assert asyncio.run(scenario())


def test_a_system_that_did_not_start_is_started_again_and_the_failed_logs_are_kept(tmp_path, monkeypatch):
    from benchmarks import system

    folder, calls = tmp_path / "run", []

    def start(where, before_services, pg_options=()):
        calls.append(where)
        where.mkdir(exist_ok=True)
        (where / "smtp-sink.log").write_text(f"attempt {len(calls)}")
        if len(calls) == 1:
            raise RuntimeError("smtp-sink exited: Address already in use")
        return "started"

    monkeypatch.setattr(system, "_start_system", start)
    assert system.start_system(folder) == "started" and calls == [folder, folder]
    assert (tmp_path / "run-failed-1" / "smtp-sink.log").read_text() == "attempt 1"


def test_a_system_that_never_starts_fails_with_its_own_error(tmp_path, monkeypatch):
    from benchmarks import system

    def start(where, before_services, pg_options=()):
        where.mkdir(exist_ok=True)
        raise RuntimeError("kafka exited with 1")

    monkeypatch.setattr(system, "_start_system", start)
    with pytest.raises(RuntimeError, match="kafka exited"):
        system.start_system(tmp_path / "run", attempts=2)
