"""A real PostgreSQL server for tests: Debian's package, initdb + pg_ctl in a temporary directory.

PostgreSQL refuses to run as root; as root we run it as the `postgres` system user the package creates
(`runuser`), in a directory that user owns. It listens on 127.0.0.1 on a free port (trust auth: the
server lives only as long as the test session), its socket in the same directory.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin folder; fails (never skips) when there is none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): the PostgreSQL tests need it."
            " Install Debian's package: apt-get install postgresql (scripts/setup.sh does with RAG_SETUP_POSTGRES=1)"
        )
    return Path(found[-1]).parent


@dataclass
class PostgresServer:
    directory: Path
    port: int
    bin: Path

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        _run(self, [str(self.bin / "pg_ctl"), "stop", "-D", str(self.directory / "data"), "-m", "fast", "-w"])
        shutil.rmtree(self.directory, ignore_errors=True)


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(server: PostgresServer, command: list[str]) -> None:
    done = subprocess.run(_as_postgres(command), capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        log = server.directory / "server.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stdout}{done.stderr}\n{tail}")


def start_postgres(port: int) -> PostgresServer:
    """initdb a new cluster in a temporary directory and start it; `stop()` removes it all."""
    directory = Path(tempfile.mkdtemp(prefix="rag-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    server = PostgresServer(directory, port, postgres_bin())
    data = directory / "data"
    _run(server, [str(server.bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8"])  # fmt: skip
    options = f"-h 127.0.0.1 -p {port} -k {directory} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    options += " -c max_connections=300"  # each test database gets pools of its own
    try:
        _run(server, [str(server.bin / "pg_ctl"), "start", "-D", str(data), "-w", "-t", "120",
                      "-l", str(directory / "server.log"), "-o", options])  # fmt: skip
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return server
