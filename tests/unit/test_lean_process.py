"""A dispute process leaves rich out of its memory (services/common/lean_process.py), and its
logs still work without it; a process that only imports the same modules keeps rich."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

AS_THE_PROGRAM = """
import json, runpy, sys
sys.argv = ["services.dispute.main", "no-such-command"]
try:
    runpy.run_module("services.dispute.main", run_name="__main__", alter_sys=True)
except SystemExit:
    pass  # argparse refused the command, after the module's imports
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
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_dispute_process_runs_without_rich_and_renders_tracebacks_plainly():
    done = run(AS_THE_PROGRAM)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"rich": False, "structlog": True}
    assert "ValueError: boom" in done.stderr  # structlog's plain traceback on the console renderer


def test_importing_the_dispute_main_module_leaves_rich_importable():
    done = run(AS_A_MODULE)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"rich": True}
