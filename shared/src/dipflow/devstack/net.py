from __future__ import annotations

import secrets
import socket
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PORT = 10_000


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now, below the range the system hands out to outgoing
    connections where it says which that is: a port from that range, free when chosen, can be taken by any
    client's connection (a Kafka or database client in another test) before the server that was to listen on it
    binds it."""
    below = ephemeral_low()
    for _ in range(100 if below - LOWEST_PORT > 1000 else 0):
        port = secrets.randbelow(below - LOWEST_PORT) + LOWEST_PORT
        if _bindable(port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ephemeral_low() -> int:
    """The lowest port the system gives outgoing connections (0 where it does not say)."""
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0
