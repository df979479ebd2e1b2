"""A private PostgreSQL server from Debian's packages, on 127.0.0.1 and a port of our choice.

PostgreSQL refuses to run as root, so when we are root every server command runs as the
`postgres` user in a data folder it owns. Trust auth: this is for tests and local runs only.

CLI: python -m infra.postgres run [--port 5432] [--data DIR]
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from infra.ports import free_port

FAST_UNSAFE = ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]


def pg_bin(name: str) -> str:
    """Debian keeps the server binaries out of PATH, under /usr/lib/postgresql/<v>/bin."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path:
        return on_path
    raise RuntimeError(f"PostgreSQL's {name} not found: apt-get install postgresql")


class PostgresServer:
    """`dsn(dbname)` gives a libpq URL; `create_database(name)` makes a fresh database."""

    def __init__(self, data_dir: Path, port: int | None = None, durable: bool = False,
                 options: tuple[str, ...] = ()):
        """`options`: more server settings (`-c name=value` each), e.g. for a benchmark."""
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.durable = durable
        self.options = options
        self.user = "postgres"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def start(self, timeout: float = 60.0) -> "PostgresServer":
        self._prepare_dirs()
        if not (self.data_dir / "PG_VERSION").exists():
            self._as_owner([pg_bin("initdb"), "-D", str(self.data_dir), "-U", self.user,
                            "--auth=trust", "-E", "UTF8", "--no-sync"])
        # a test session holds many pools at once (every app under test has its own): 400
        options = f"-p {self.port} -k {self._socket_dir()} -c listen_addresses=127.0.0.1 -c max_connections=400"
        if not self.durable:
            options += " " + " ".join(FAST_UNSAFE)
        options += "".join(f" -c {option}" for option in self.options)
        self._as_owner([pg_bin("pg_ctl"), "-D", str(self.data_dir), "-o", options,
                        "-l", str(self.log_file), "-w", "-t", str(int(timeout)), "start"])
        return self

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._as_owner([pg_bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"],
                           check=False)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def _socket_dir(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.sock"

    def _prepare_dirs(self) -> None:
        for path in (self.data_dir, self._socket_dir()):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o700)
        self.log_file.touch()
        if os.geteuid() == 0:
            for path in (self.data_dir, self._socket_dir(), self.log_file):
                shutil.chown(path, "postgres", "postgres")
            self._open_parents_for_postgres()

    def _open_parents_for_postgres(self) -> None:
        """The postgres user must be able to reach the data folder through its parents."""
        for parent in self.data_dir.parents:
            if parent == Path("/"):
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)

    def _as_owner(self, cmd: list[str], check: bool = True) -> None:
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}): "
                               f"{result.stderr or result.stdout}; log: {self.log_file}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.postgres")
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--port", type=int, default=5432)
    parser.add_argument("--data", type=Path, default=Path(".run/postgres"))
    args = parser.parse_args(argv)
    server = PostgresServer(args.data, port=args.port, durable=True).start()
    print(f"postgres: listening on {server.dsn()}", flush=True)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        while not stopping:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
