"""What a service process leaves out of its memory: called first thing by a service's main
module when it runs as the program (`python -m ...`), before structlog is imported.

rich (and pygments with it) is installed for the developer tools (typer, import-linter,
schemathesis), and structlog imports it whenever it can, for console tracebacks; a service
logs JSON lines and never renders one. In the dispute API it was 66 modules and ~4 MB of every
process's resident memory (import of the API 107.4 -> 103.6 MB). Without it structlog falls
back to its plain tracebacks on a terminal. Only in a service's own process: a test process
or a tool importing the same modules keeps rich.
"""

from __future__ import annotations

import sys

LEFT_OUT = ("rich",)


def leave_out_console_extras() -> None:
    """Marks rich unimportable (`import rich` raises ImportError, which structlog expects)
    unless something imported it already."""
    for name in LEFT_OUT:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
