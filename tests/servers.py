"""Real server processes for tests: started on 127.0.0.1, waited for, always stopped."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(command: list[str], *, ready_url: str, log_path: Path, timeout: float = 120) -> Iterator[None]:
    """Run ``command`` until ``ready_url`` answers; stop it on exit. Fails the test with the
    server's log if it dies or does not come up in time."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    urllib.request.urlopen(ready_url, timeout=1).read()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"{command[0]} did not start: " + log_path.read_text(errors="replace")[-2000:])
                    time.sleep(0.2)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


class Site:
    """A real HTTP server on 127.0.0.1, in a thread, serving ``routes`` (path -> :class:`Route`).

    It answers ``If-None-Match`` / ``If-Modified-Since`` with 304 for a route that has an
    ``etag`` / ``modified``, and records each request as ``(path, User-Agent, monotonic time)``.
    """

    def __init__(self) -> None:
        import http.server
        import threading

        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str, float]] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
                site.requests.append((self.path, self.headers.get("User-Agent", ""), time.monotonic()))
                route = site.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                try:
                    route.answer(self)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up: that is the test
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def paths(self) -> list[str]:
        return [path for path, _, _ in self.requests]

    def __enter__(self) -> Site:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class Route:
    """What one path answers: a status, a content type and a body, optionally slowly or with validators."""

    def __init__(
        self,
        body: str | bytes = b"",
        *,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        etag: str | None = None,
        modified: str | None = None,
        headers: dict[str, str] | None = None,
        length: int | None = None,
        pause: float = 0.0,
        trickle: float = 0.0,
    ) -> None:
        self.body = body.encode() if isinstance(body, str) else body
        self.status, self.content_type, self.etag, self.modified = status, content_type, etag, modified
        self.headers = headers or {}
        self.length = length  # the Content-Length announced (None: the body's; -1: none, read to the close)
        self.pause = pause  # seconds before answering
        self.trickle = trickle  # seconds between chunks of 1 KB

    def answer(self, handler) -> None:
        time.sleep(self.pause)
        if (self.etag and handler.headers.get("If-None-Match") == self.etag) or (
            self.modified and handler.headers.get("If-Modified-Since") == self.modified
        ):
            handler.send_response(304)
            handler.end_headers()
            return
        handler.send_response(self.status)
        handler.send_header("Content-Type", self.content_type)
        if self.length != -1:
            handler.send_header("Content-Length", str(len(self.body) if self.length is None else self.length))
        for name, value in {"ETag": self.etag, "Last-Modified": self.modified, **self.headers}.items():
            if value:
                handler.send_header(name, value)
        handler.end_headers()
        if self.trickle:
            for i in range(0, len(self.body), 1024):
                handler.wfile.write(self.body[i : i + 1024])
                handler.wfile.flush()
                time.sleep(self.trickle)
        else:
            handler.wfile.write(self.body)
