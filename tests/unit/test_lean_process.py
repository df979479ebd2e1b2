"""A dispute, notification or refund process leaves rich out of its memory
(services/common/lean_process.py), and its logs still work without it; a process that only
imports the same modules keeps rich."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

AS_THE_PROGRAM = """
import json, runpy, sys
sys.argv = [MODULE, *ARGS]
try:
    runpy.run_module(MODULE, run_name="__main__", alter_sys=True)
except SystemExit:
    pass  # refused (an unknown command, no Kafka principal) after the module's imports
import structlog
from services.common.logging import configure_logging
configure_logging("INFO", json=False)
try:
    raise ValueError("boom")
except ValueError:
    structlog.get_logger("t").exception("failed")
print(json.dumps({"rich": "rich" in sys.modules and sys.modules["rich"] is not None,
                  "structlog": "structlog" in sys.modules}))
"""

AS_A_MODULE = """
import json, sys
import services.dispute.main
import rich
print(json.dumps({"rich": sys.modules["rich"] is not None}))
"""


def run(code: str) -> subprocess.CompletedProcess:
    # neither local mode nor a Kafka principal: a service refuses to start, after its imports
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("PLATFORM_", "NOTIFICATION_", "DISPUTE_", "REFUND_"))}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=env)


@pytest.mark.parametrize("module, args", [("services.dispute.main", ["no-such-command"]),
                                          ("services.notification.main", []),
                                          ("services.refund.main", ["no-such-command"])])
def test_the_service_process_runs_without_rich_and_renders_tracebacks_plainly(module, args):
    done = run(f"MODULE, ARGS = {module!r}, {args!r}\n" + AS_THE_PROGRAM)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"rich": False, "structlog": True}
    assert "ValueError: boom" in done.stderr  # structlog's plain traceback on the console renderer


def test_importing_the_dispute_main_module_leaves_rich_importable():
    done = run(AS_A_MODULE)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"rich": True}
