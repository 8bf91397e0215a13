"""A throwaway PostgreSQL server on loopback for the tests (Debian's initdb and pg_ctl; trust
auth, user ``leanfit``), which a test may stop and start again mid-run."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin(install: bool = False) -> Path | None:
    """The folder of initdb/pg_ctl; with ``install``, apt-get installs PostgreSQL when root and
    it is absent."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found and install and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = "apt-get install -y postgresql || (apt-get update && apt-get install -y postgresql)"
        subprocess.run(["sh", "-c", cmd], env=env, capture_output=True, timeout=600)
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    """A new database cluster in a temporary folder, started on a free loopback port; ``url``
    is its base URL (``postgresql://leanfit@127.0.0.1:PORT``)."""

    def __init__(self, bindir: Path) -> None:
        self._as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self._tmp = tempfile.mkdtemp(prefix="leanfit-pg-")
        data = os.path.join(self._tmp, "data")
        os.makedirs(data)
        if self._as_pg:
            shutil.chown(self._tmp, "postgres", "postgres")
            shutil.chown(data, "postgres", "postgres")
        os.chmod(data, 0o700)
        port = free_port()
        self.url = f"postgresql://leanfit@127.0.0.1:{port}"
        self._pg_ctl = [*self._as_pg, str(bindir / "pg_ctl"), "-D", data]
        self._opts = f"-p {port} -k {self._tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
        initdb = [str(bindir / "initdb"), "-D", data, "-U", "leanfit", "--auth=trust"]
        try:
            subprocess.run([*self._as_pg, *initdb], check=True, capture_output=True, timeout=120)
            self.start()
        except BaseException:
            self.close()
            raise

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        log = os.path.join(self._tmp, "log")
        cmd = [*self._pg_ctl, "-o", self._opts, "-l", log, "-w", "start"]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def stop(self) -> None:
        """Stop the server at once, as a crash would (``-m immediate``)."""
        cmd = [*self._pg_ctl, "-m", "immediate", "-w", "stop"]
        subprocess.run(cmd, capture_output=True, timeout=60)

    def close(self) -> None:
        """Stop the server and remove its files."""
        self.stop()
        shutil.rmtree(self._tmp, ignore_errors=True)
