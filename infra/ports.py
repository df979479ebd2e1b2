"""Free-port helpers so parallel runs on one machine never collide."""

import random
import socket
import time
from pathlib import Path

# Listening ports are picked from here, below the kernel's range for outgoing connections and
# above the fixed ports of `make run` (8000-8026, 9092-9102).
LISTEN_PORTS = (10000, 32768)
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_handed_out: set[int] = set()  # never twice in one process: callers pick several before binding


def free_port() -> int:
    """A port nothing listens on now, outside the range the kernel hands to outgoing
    connections: a port from bind(0) comes from that range, and on a busy machine (parallel test
    workers, benchmarks: thousands of client connections) a client's connect could take it
    before the server that was given it binds it ("address already in use")."""
    low, high = _ephemeral_range()
    ports = [p for p in range(*LISTEN_PORTS) if not low <= p <= high and p not in _handed_out]
    for port in random.sample(ports, min(50, len(ports))):
        if _bindable(port):
            _handed_out.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # every pick was taken
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = EPHEMERAL_RANGE.read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for_port(port: int, timeout: float, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")
