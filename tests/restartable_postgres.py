"""A PostgreSQL server that a test stops and starts again by PID, as an outage does (the
``restartable_postgres`` fixture of conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path


class RestartablePostgres:
    """A PostgreSQL server of its own (pgserver's binaries), stopped and started again by PID as
    an outage does: ``stop()`` is a fast shutdown (SIGINT to the postmaster), ``start()`` brings it
    back on the same socket, so clients reconnect to the same URL."""

    def __init__(self, data: Path):
        import pgserver

        self.data = data
        server = pgserver.get_server(data, cleanup_mode=None)
        self.uri = server.get_uri()
        self.socket_dir = self.uri.split("host=", 1)[1]
        self.system_user = server.system_user
        self.pid: int | None = server.get_pid()

    def url(self, database: str) -> str:
        import psycopg

        with psycopg.connect(self.uri.replace("postgres:@", "postgres@"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {database}")
        return self.uri.replace("@/postgres?", f"@/{database}?")

    def stop(self) -> None:
        import signal
        import time

        if self.pid is None:
            return
        os.kill(self.pid, signal.SIGINT)
        deadline = time.monotonic() + 30
        while _alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)
        self.pid = None

    def start(self) -> None:
        from pgserver._commands import pg_ctl

        log = self.data / "log"
        args = ["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(log), "start"]
        pg_ctl(args, pgdata=self.data, user=self.system_user, timeout=30)
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for clients
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
