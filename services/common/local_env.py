"""The local settings file `make run` writes (`.run/local.env`) for the operator tools beside it.

Precedence, highest first: command-line options, environment variables, the local settings
file (PLATFORM_LOCAL_ENV, default `.run/local.env` under the working directory; only when it
exists), then each setting's own default. Services never read it: `make run` hands them the
same values in their environment.
"""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import dotenv_values

LOCAL_ENV_VARIABLE = "PLATFORM_LOCAL_ENV"
DEFAULT_LOCAL_ENV = Path(".run/local.env")


def local_env_path() -> Path:
    return Path(os.environ.get(LOCAL_ENV_VARIABLE) or DEFAULT_LOCAL_ENV)


def load_local_env() -> Path | None:
    """Fill in, from the local settings file, every variable the environment does not set."""
    path = local_env_path()
    if not path.is_file():
        return None
    for name, value in dotenv_values(path).items():
        if value is not None:
            os.environ.setdefault(name, value)
    return path


def write_local_env(path: Path, variables: dict[str, str]) -> None:
    """Written by `make run` (mode 0600: it holds Kafka passwords)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text("# written by `make run` (tools/run_local.py) for the operator tools; "
                    "environment variables win over it\n"
                    + "".join(f"{name}={_quoted(value)}\n" for name, value in sorted(variables.items())))


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
