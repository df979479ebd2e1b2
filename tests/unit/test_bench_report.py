"""The benchmark's pure parts: reading vegeta's report, the rule for the highest rate held,
the rows and the table (no timing here: figures come from `make bench` only)."""

from datetime import datetime, timezone

import pytest

from benchmarks.memory import status_kb
from benchmarks.report import (RateResult, Row, highest_rate_held, not_measured, parse_vegeta_report,
                               percentile, row_from_dict, table)
from benchmarks.vegeta import Target, parse_answer, parse_timestamp
from benchmarks.workload import dispute_of

REPORT = {"latencies": {"total": 95377586, "mean": 1907551, "50th": 1444034, "90th": 3460712,
                        "95th": 5291880, "99th": 6537176, "max": 6537176, "min": 1026741},
          "duration": 979821924, "wait": 1213418, "requests": 1000, "rate": 1001.2,
          "throughput": 990.5, "success": 0.99, "status_codes": {"201": 990, "409": 3, "0": 7},
          "errors": ["Post ...: context deadline exceeded", "409 Conflict"]}


def rate(offered, achieved=None, errors=0, p99=10.0) -> RateResult:
    return RateResult(offered, offered if achieved is None else achieved, int(offered), errors,
                      1.0, 5.0, p99, {}, [])


def test_vegeta_report_latencies_are_read_in_milliseconds_and_every_non_2xx_is_an_error():
    result = parse_vegeta_report(REPORT, offered=1000)
    assert (result.p50_ms, result.p95_ms, result.p99_ms) == (1.444034, 5.29188, 6.537176)
    assert result.achieved == 990.5 and result.requests == 1000
    assert result.errors == 10  # 3 conflicts + 7 transport errors (code 0)
    assert result.status_codes == {"201": 990, "409": 3, "0": 7}


def test_a_report_without_answers_has_no_errors_counted_twice():
    result = parse_vegeta_report({"requests": 0, "status_codes": None, "errors": None}, offered=200)
    assert result.errors == 0 and result.error_samples == [] and result.p99_ms == 0


def test_the_highest_rate_held_needs_no_error_p99_within_50_ms_and_the_offered_rate_achieved():
    results = [rate(200), rate(500, p99=49.9), rate(1000, errors=1), rate(2000, p99=51)]
    assert highest_rate_held(results) == 500
    assert highest_rate_held([rate(200), rate(500, achieved=450)]) == 200  # fell behind the offer
    assert highest_rate_held([rate(200, achieved=191)]) == 200  # 95 % achieved is held
    assert highest_rate_held([rate(200, p99=80)]) is None


def test_a_rate_held_above_one_that_failed_still_counts():
    assert highest_rate_held([rate(200, errors=2), rate(500)]) == 500


def test_ratio_is_value_over_baseline_and_unknown_without_both():
    assert Row("relay", 40.0, "/s", 80.0).ratio == 0.5
    assert Row("relay", 40.0, "/s", None).ratio is None
    assert not_measured("replay", "not there yet").ratio is None


def test_rows_handed_back_as_json_are_read_back_with_their_ratio_recomputed():
    row = row_from_dict({"figure": "replay: rebuild", "value": 60000.0, "unit": "/s", "baseline": 120000.0,
                         "baseline_of": "raw SELECT", "ratio": 99, "target": ">= 50,000/s", "met": True,
                         "extra": "ignored"})
    assert row.ratio == 0.5 and row.met is True and row.as_dict()["ratio"] == 0.5


def test_the_table_shows_value_baseline_ratio_target_and_whether_it_is_met():
    text = table([Row("HTTP commands @1,000/s: p99", 41.25, "ms", 3.3, "GET /healthz p99", "<= 50 ms", True),
                  Row("relay", 4000, "/s", 16000, "raw produce", ">= 0.5 x raw produce", False),
                  not_measured("replay", "benchmarks/replay.py not there yet")])
    lines = text.splitlines()
    assert [c.strip() for c in lines[0].strip("|").split("|")] == ["figure", "value", "baseline", "ratio",
                                                                   "target", "met?"]
    assert [c.strip() for c in lines[2].strip("|").split("|")] == [
        "HTTP commands @1,000/s: p99", "41.2 ms", "3.3 ms (GET /healthz p99)", "12.50", "<= 50 ms", "yes"]
    assert [c.strip() for c in lines[3].strip("|").split("|")][1:] == [
        "4,000/s", "16,000/s (raw produce)", "0.25", ">= 0.5 x raw produce", "NO"]
    assert [c.strip() for c in lines[4].strip("|").split("|")][1:] == [
        "not measured: benchmarks/replay.py not there yet", "-", "-", "-", "-"]


def test_percentile_is_nearest_rank():
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50 and percentile(values, 0.99) == 99 and percentile(values, 1.0) == 100
    assert percentile([7.0], 0.99) == 7 and percentile([], 0.5) is None


def test_go_timestamps_with_nanoseconds_and_an_offset_are_read():
    expected = datetime(2026, 12, 1, 11, 10, 50, 819568, tzinfo=timezone.utc).timestamp()
    assert parse_timestamp("2026-12-01T11:10:50.819568615Z") == pytest.approx(expected)
    assert parse_timestamp("2026-12-01T12:10:50.819568615+01:00") == pytest.approx(expected)
    assert parse_timestamp("2026-12-01T11:10:50Z") == pytest.approx(expected - 0.819568)


def test_an_answer_arrives_at_its_send_time_plus_its_latency():
    answer = parse_answer({"code": 200, "timestamp": "2026-12-01T11:10:50.5Z", "latency": 25_000_000,
                           "url": "http://127.0.0.1:8000/v1/disputes/abc/accept-claim"})
    sent = datetime(2026, 12, 1, 11, 10, 50, 500000, tzinfo=timezone.utc).timestamp()
    assert answer.answered_at == pytest.approx(sent + 0.025) and answer.latency_ms == pytest.approx(25)
    assert dispute_of(answer.url) == "abc"


def test_a_target_line_carries_its_headers_as_lists_and_its_body_in_base64():
    line = Target("POST", "http://h/v1/disputes/d/messages", {"Idempotency-Key": "k-1"}, b'{"text":"hi"}').json_line()
    assert '"header": {"Idempotency-Key": ["k-1"]}' in line and '"body": "eyJ0ZXh0IjoiaGkifQ=="' in line
    assert '"body"' not in Target("GET", "http://h/healthz", {}).json_line()


def test_proc_status_fields_are_read_in_kilobytes():
    status = "Name:\tpython\nVmHWM:\t  153600 kB\nVmRSS:\t  102400 kB\n"
    assert status_kb(status, "VmRSS") == 102400 and status_kb(status, "VmHWM") == 153600
    assert status_kb(status, "VmSwap") == 0


def test_http_rows_name_the_skipped_rates_and_the_highest_rate_held_against_its_target():
    from benchmarks.rows import http_rows

    health = {200: rate(200, p99=2.0), 500: rate(500, p99=3.0), 1000: rate(1000, p99=90.0)}
    commands = {200: rate(200, p99=20.0), 500: rate(500, achieved=200, p99=900.0), 1000: None}
    rows = {row.figure: row for row in http_rows(health, commands, 2500.0, 8, 3)}
    held = rows["HTTP commands: highest offered rate held (p99 <= 50 ms, no error)"]
    assert (held.value, held.baseline, held.met) == (200, 500, False)
    assert rows["HTTP commands @1,000/s (3 s)"].note == "not measured: skipped: a lower rate saturated"
    assert rows["HTTP commands @500/s (3 s): achieved"].ratio == 200 / 500
    best = rows["HTTP commands: best achieved rate (any rate)"]
    assert (best.value, best.baseline) == (200, 2500.0)  # 500/s offered, 200/s achieved


def test_a_failed_phase_becomes_rows_that_say_so_instead_of_figures():
    from benchmarks.rows import e2e_rows, relay_rows

    error = RuntimeError("the bench relay did not finish in 300 s")
    rows = relay_rows(error, error, 200) + e2e_rows(error, 200)
    assert [row.value for row in rows] == [None, None, None]
    assert all("did not finish" in row.note for row in rows)


def test_replay_rows_come_from_benchmarks_replay_measure_when_it_is_there(monkeypatch):
    import sys
    import types

    from benchmarks.rows import replay_rows

    calls = []
    fake = types.ModuleType("benchmarks.replay")

    def measure(pg_url, quick):
        calls.append((pg_url, quick))
        return {"rows": [{"figure": "replay: projection rebuild", "value": 60000.0, "unit": "/s",
                          "baseline": 120000.0, "baseline_of": "raw SELECT", "target": ">= 50,000/s",
                          "met": True}], "peak_rss_mb": 80}

    fake.measure = measure  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "benchmarks.replay", fake)
    rows, measured = replay_rows(lambda: "postgresql://postgres@127.0.0.1:5432/bench_replay", True)
    assert calls == [("postgresql://postgres@127.0.0.1:5432/bench_replay", True)]
    assert [(r.figure, r.ratio, r.met) for r in rows] == [("replay: projection rebuild", 0.5, True)]
    assert measured["peak_rss_mb"] == 80


def test_a_failing_replay_is_shown_as_not_measured(monkeypatch):
    import sys
    import types

    from benchmarks.rows import replay_rows

    fake = types.ModuleType("benchmarks.replay")

    def measure(pg_url, quick):
        raise RuntimeError("disk full")

    fake.measure = measure  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "benchmarks.replay", fake)
    rows, measured = replay_rows(lambda: "postgresql://x/y", False)
    assert measured is None and rows and all(r.value is None and "disk full" in r.note for r in rows)


def test_end_to_end_with_no_claim_accepted_is_not_met_rather_than_all_refunds_seen():
    from benchmarks.rows import e2e_rows

    nothing = {"http": {"errors": 400, "requests": 400, "p50_ms": 5000.0, "p99_ms": 5001.0}, "accepted": 0,
               "refunds_seen": 0, "p50_ms": None, "p99_ms": None}
    rows = e2e_rows(nothing, 200)
    assert [(r.value, r.met) for r in rows] == [(None, False)]
    assert "no accept-claim answered 2xx (400 errors of 400)" in rows[0].note
    some = {**nothing, "accepted": 10, "refunds_seen": 9, "p50_ms": 120.0, "p99_ms": 240.0}
    assert [r.met for r in e2e_rows(some, 200)] == [None, True, False]


def test_end_to_end_rows_show_each_stage_p99_beside_its_p50():
    from benchmarks.rows import e2e_rows

    hops = {"accept answered -> Resolved on Kafka": {"p50_ms": -5.0, "p99_ms": 104.0, "count": 200},
            "Resolved on Kafka -> RefundIssued": {"p50_ms": 530.0, "p99_ms": 705.0, "count": 199}}
    figures = {"http": {"errors": 0, "requests": 200, "p50_ms": 233.0, "p99_ms": 403.0}, "accepted": 200,
               "refunds_seen": 200, "p50_ms": 490.0, "p99_ms": 730.0, "hops": hops}
    rows = e2e_rows({**figures, "cpu_ms_per_refund_by_process": {"refund": 4.0, "machine": 16.0}}, 200)
    stages = [r for r in rows if ", stage: " in r.figure]
    assert [(r.figure, r.value, r.baseline, r.baseline_of) for r in stages] == [
        ("end to end, stage: accept answered -> Resolved on Kafka, p99 (n 200)", 104.0, -5.0, "p50"),
        ("end to end, stage: Resolved on Kafka -> RefundIssued, p99 (n 199)", 705.0, 530.0, "p50")]
    cpu = [r for r in rows if "CPU per refund" in r.figure]
    assert [(r.figure, r.value, r.baseline, r.ratio) for r in cpu] == [
        ("end to end: refund CPU per refund issued", 4.0, 16.0, 0.25)]


def test_a_row_of_the_replay_module_reads_with_its_own_field_names():
    from benchmarks.report import row_from_dict
    row = row_from_dict({"name": "rebuild index (50,000 events)", "value": 16000.0, "unit": "events/s",
                         "baseline_name": "raw SELECT scan", "baseline": 100000.0, "ratio": 0.16,
                         "target": ">= 50,000 events/s", "met": False})
    assert (row.figure, row.baseline_of, row.value, row.met) == (
        "rebuild index (50,000 events)", "raw SELECT scan", 16000.0, False)
