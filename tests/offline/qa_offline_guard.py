"""A guard that refuses every network connection except to loopback, and records attempts.

Installed in the test process by ``tests/conftest.py`` and in every Python subprocess the
tests start (through ``sitecustomize.py`` beside this file, put on ``PYTHONPATH``), so a
hidden download or telemetry call anywhere fails the test run, even if the library that
made it swallows the error.
"""

from __future__ import annotations

import ipaddress
import os
import socket

LOG_VARIABLE = "QA_OFFLINE_GUARD_LOG"
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def allowed(host: str) -> bool:
    """Loopback addresses (and the name localhost) only.

    Example: ``allowed("127.0.0.1") and allowed("::1") and not allowed("192.0.2.1")``
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a name: a real client resolves it first, so this is unexpected


def _record(host: str) -> None:
    path = os.environ.get(LOG_VARIABLE)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()} {host}\n")


def _check(sock: socket.socket, address) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not allowed(str(address[0])):
        _record(str(address[0]))
        raise OSError(f"offline guard: connection to {address[0]} refused; tests may only use loopback")


def _connect(self, address):
    _check(self, address)
    return _real_connect(self, address)


def _connect_ex(self, address):
    _check(self, address)
    return _real_connect_ex(self, address)


def install() -> None:
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex


def installed() -> bool:
    return socket.socket.connect is _connect
