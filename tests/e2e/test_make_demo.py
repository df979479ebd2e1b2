"""`make demo` against a running `make run` (tools/run_local.py as a process on a temporary
RUN_DIR and free ports, as test_make_run_restart.py starts it; the demo finds it through
RUN_DIR/local.env): one dispute from opening to refund, and what each part saw."""

import re
import subprocess
import sys

import pytest

from tests.e2e.test_make_run_restart import ROOT, LocalRun, clean_shell

pytestmark = pytest.mark.e2e


def make_demo(local_env) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=240,
                          env={**clean_shell(), "PLATFORM_LOCAL_ENV": str(local_env)})


def test_make_demo_plays_a_dispute_to_its_refund_and_shows_the_refund_and_the_mails(tmp_path):
    run = LocalRun(tmp_path / "run")
    run.start()
    try:
        demo = make_demo(run.dir / "local.env")
    finally:
        run.interrupt()
    out = demo.stdout
    assert demo.returncode == 0, out + demo.stderr
    [order] = re.findall(r"opened dispute \S+ on (O-DEMO-\w+-1)", out)
    assert "offered a 30.00 partial refund" in out and "accepted: dispute RESOLVED" in out
    timeline = out.split("timeline:")[1].split("refunds at the payment simulator")[0]
    assert ["DisputeOpened", "OfferMade", "OfferAccepted", "RefundIssued"] == \
        re.findall(r"\b(DisputeOpened|OfferMade|OfferAccepted|RefundIssued)\b", timeline)
    refunds = out.split("refunds at the payment simulator")[1].split("e-mails received")[0]
    assert re.search(rf"30\.00 USD\s+\w+\s+order {order}", refunds), refunds
    mails = out.split("e-mails received by the SMTP sink")[1]
    buyer, seller = re.search(r"buyer (B-DEMO-\w+) opened", out).group(1), re.search(r"seller (S-DEMO-\w+)", out).group(1)
    resolved = [line for line in mails.splitlines() if "resolved" in line.lower()]
    assert any(f"{buyer}@" in line for line in resolved) and any(f"{seller}@" in line for line in resolved), mails
    assert re.search(rf"{buyer}@\S+\s+Your refund of 30\.00 USD was issued", mails), mails


def test_make_demo_without_make_run_says_so_in_one_line(tmp_path):
    missing = subprocess.run([sys.executable, "-m", "tools.demo"], cwd=tmp_path, capture_output=True, text=True,
                             env={**clean_shell(), "PLATFORM_LOCAL_ENV": str(tmp_path / "local.env"),
                                  "PYTHONPATH": str(ROOT)}, timeout=60)
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.count("\n") == 1 and "needs `make run` going" in missing.stderr


def test_make_demo_with_a_stopped_make_run_says_nothing_answers(tmp_path):
    (tmp_path / "local.env").write_text("DISPUTE_HTTP_PORT='1'\n")
    stopped = subprocess.run([sys.executable, "-m", "tools.demo"], cwd=ROOT, capture_output=True, text=True,
                             env={**clean_shell(), "PLATFORM_LOCAL_ENV": str(tmp_path / "local.env")}, timeout=60)
    assert stopped.returncode == 2 and stopped.stderr.count("\n") == 1
    assert "nothing answers at http://127.0.0.1:1" in stopped.stderr
