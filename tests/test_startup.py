"""What every ``dsn-*`` command pays at start: Hydra scans ``hydra_plugins`` for plugins on each
start, so a plugin module must not import the sweep's heavy dependencies (Optuna, SQLAlchemy,
psycopg, submitit); they load only when a sweep runs."""

import subprocess
import sys

from conftest import REPO

HEAVY = ("optuna", "sqlalchemy", "psycopg", "submitit")


def test_the_plugin_scan_imports_no_sweep_dependency():
    probe = (
        "import sys; from hydra.core.plugins import Plugins; from hydra.plugins.sweeper import Sweeper; "
        "names = [p.__name__ for p in Plugins.instance().discover(Sweeper)]; "
        f"print(names); print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    found, heavy = out.stdout.strip().splitlines()[-2:]
    assert "DsnOptunaSweeper" in found  # the scan still finds dsn's sweeper
    assert heavy == "[]", f"a plugin scan imported {heavy}"


def test_a_sweep_still_loads_its_worker_when_it_starts():
    from hydra_plugins.dsn_sweeper.optuna_sweeper import DsnOptunaSweeper

    sweeper = DsnOptunaSweeper(
        study_name="s",
        storage=None,
        n_trials=1,
        n_jobs=1,
        seed=0,
        directions=["maximize"],
        params={"model.head.hidden": {"type": "int", "low": 8, "high": 16}},
        heartbeat_interval=1,
        grace_period=2,
        storage_retry_s=1,
        max_wait_s=1,
        max_retries=0,
    )
    assert type(sweeper.worker).__name__ == "OptunaWorker" and "optuna" in sys.modules


def test_help_answers_without_torch():
    """``dsn-train --help`` (and a mistyped override) answer from Hydra alone: torch, torchvision
    and Lightning load only when a run starts (they took ~7 of the 9 s --help needed here)."""
    probe = (
        "import sys; sys.argv = ['dsn-train', '--help']\n"
        "import dsn.train\n"
        "try:\n    dsn.train.main()\nexcept SystemExit:\n    pass\n"
        "print([m for m in ('torch', 'torchvision', 'lightning') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert "== Configuration groups ==" in out.stdout, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
