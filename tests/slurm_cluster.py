"""A real single-node SLURM 22.05 cluster for the tests, from Debian's packages (slurm-wlm,
munge, slurmdbd, mariadb-server), in a folder of its own and without systemd or cgroups:
munged, mariadbd, slurmdbd (accounting: submitit reads job states with ``sacct``), slurmctld and
slurmd, each started directly and ended by its PID. Clients find it through ``SLURM_CONF``
(:meth:`SlurmCluster.env`)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ("slurmctld", "slurmd", "slurmdbd", "munged", "mariadbd", "mariadb-install-db", "sbatch", "sacct")


def missing_programs() -> list[str]:
    return [p for p in PACKAGES if shutil.which(p) is None and not Path("/usr/sbin", p).exists()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _program(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin") / name)


class SlurmCluster:
    """One node (this host) with ``cpus`` CPUs and ``memory_mb`` of memory; ``start()`` returns
    once ``sinfo`` shows the node idle; ``stop()`` ends every daemon by PID."""

    def __init__(self, folder: Path, cpus: int = 2, memory_mb: int = 8000):
        self.dir = folder
        self.cpus, self.memory_mb = cpus, memory_mb
        self.name = "dsntest"
        self.host = socket.gethostname()
        self.procs: list[subprocess.Popen] = []

    # ---- configuration -------------------------------------------------------------------------

    def env(self) -> dict:
        """The environment a SLURM client (sbatch, sacct, submitit) needs to find this cluster."""
        return {**os.environ, "SLURM_CONF": str(self.dir / "slurm.conf")}

    def _write_config(self) -> None:
        d = self.dir
        for sub in ("state", "spool", "log", "db", "munge", "jobs"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        # libmunge's clients (sacctmgr's connection to slurmdbd among them) look only here
        self.munge_socket = Path("/run/munge/munge.socket.2")
        self.munge_socket.parent.mkdir(parents=True, exist_ok=True)
        self.db_port, self.dbd_port = _free_port(), _free_port()
        self.ctld_port, self.slurmd_port = _free_port(), _free_port()
        auth = "AuthType=auth/munge\n"
        (d / "slurm.conf").write_text(
            f"ClusterName={self.name}\nSlurmctldHost={self.host}\nSlurmUser=root\nSlurmdUser=root\n{auth}"
            f"SlurmctldPort={self.ctld_port}\nSlurmdPort={self.slurmd_port}\n"
            f"StateSaveLocation={d / 'state'}\nSlurmdSpoolDir={d / 'spool'}\n"
            f"SlurmctldPidFile={d / 'slurmctld.pid'}\nSlurmdPidFile={d / 'slurmd.pid'}\n"
            f"SlurmctldLogFile={d / 'log' / 'slurmctld.log'}\nSlurmdLogFile={d / 'log' / 'slurmd.log'}\n"
            "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nJobAcctGatherType=jobacct_gather/none\n"
            "SelectType=select/cons_tres\nSelectTypeParameters=CR_CPU_Memory\n"
            "SchedulerType=sched/backfill\nReturnToService=2\nMpiDefault=none\n"
            "SlurmctldTimeout=30\nSlurmdTimeout=30\nInactiveLimit=0\nMinJobAge=300\nKillWait=30\n"
            "AccountingStorageType=accounting_storage/slurmdbd\n"
            f"AccountingStorageHost=127.0.0.1\nAccountingStoragePort={self.dbd_port}\n"
            f"NodeName={self.host} CPUs={self.cpus} RealMemory={self.memory_mb} State=UNKNOWN\n"
            f"PartitionName=debug Nodes={self.host} Default=YES MaxTime=INFINITE State=UP\n"
        )
        dbd = d / "slurmdbd.conf"
        dbd.write_text(
            f"{auth}DbdHost={self.host}\nDbdAddr=127.0.0.1\nDbdPort={self.dbd_port}\nSlurmUser=root\n"
            f"PidFile={d / 'slurmdbd.pid'}\nLogFile={d / 'log' / 'slurmdbd.log'}\n"
            "StorageType=accounting_storage/mysql\nStorageHost=127.0.0.1\n"
            f"StoragePort={self.db_port}\nStorageUser=root\nStorageLoc=slurm_acct_db\n"
        )
        dbd.chmod(0o600)

    # ---- daemons ----------------------------------------------------------------------------------

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        log = open(self.dir / "log" / f"{name}.out", "w")
        p = subprocess.Popen(cmd, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        p.name = name
        self.procs.append(p)
        return p

    def _wait(self, what: str, ready, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [p.name for p in self.procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead} exited while waiting for {what}: {self.logs()}")
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"timed out waiting for {what}: {self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted((self.dir / "log").glob("*")))

    def _run(self, *cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=60)

    def start(self) -> SlurmCluster:
        self._write_config()
        d = self.dir
        key = d / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self._spawn(
            "munged",
            [
                _program("munged"),
                "--foreground",
                "--force",
                f"--key-file={key}",
                f"--socket={self.munge_socket}",
                f"--pid-file={d / 'munge' / 'munged.pid'}",
                f"--seed-file={d / 'munge' / 'seed'}",
                f"--log-file={d / 'log' / 'munged.log'}",
            ],
        )
        subprocess.run(
            [
                _program("mariadb-install-db"),
                f"--datadir={d / 'db'}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            capture_output=True,
            check=True,
            timeout=120,
        )
        self._spawn(
            "mariadbd",
            [
                _program("mariadbd"),
                f"--datadir={d / 'db'}",
                "--user=root",
                "--bind-address=127.0.0.1",
                f"--port={self.db_port}",
                f"--socket={d / 'mysql.sock'}",
                f"--pid-file={d / 'mariadbd.pid'}",
                "--innodb-buffer-pool-size=64M",
                "--innodb-lock-wait-timeout=900",
                "--skip-log-bin",
            ],
        )
        self._wait("mariadbd", lambda: (d / "mysql.sock").exists())
        self._wait("munged", lambda: self.munge_socket.exists())
        self._spawn("slurmdbd", [_program("slurmdbd"), "-D"])
        self._wait("slurmdbd", lambda: self._run("sacctmgr", "-n", "list", "cluster").returncode == 0)
        self._run("sacctmgr", "-i", "add", "cluster", self.name)
        self._spawn("slurmctld", [_program("slurmctld"), "-D", "-i"])
        self._spawn("slurmd", [_program("slurmd"), "-D"])
        self._wait("an idle node", lambda: "idle" in self._run("sinfo", "-h", "-o", "%T").stdout, timeout=90)
        return self

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        deadline = time.monotonic() + 15
        for p in reversed(self.procs):
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs.clear()
