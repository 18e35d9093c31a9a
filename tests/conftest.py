"""Shared fixtures: the real data and weights in ../shared, and tiny synthetic MVTec trees."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
MVTEC = SHARED / "data" / "mvtec_ad"
SQUEEZENET_WEIGHTS = SHARED / "weights" / "squeezenet1_1_imagenet.pth"
ALEXNET_WEIGHTS = SHARED / "weights" / "alexnet_features_imagenet.pth"


def pytest_configure(config):
    """Under pytest-xdist (``make test`` runs one worker per core), each worker, and every process
    its tests start, gets its share of the cores: torch's default of one thread per core in every
    worker oversubscribes the CPU, which slows compute-bound tests several times over."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        threads = max(1, (os.cpu_count() or 1) // workers)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not here (the project's shared data and weights)")
    return path


@pytest.fixture(scope="session")
def mvtec_root() -> Path:
    return _need(MVTEC / "bottle").parent


@pytest.fixture(scope="session")
def squeezenet_weights() -> Path:
    return _need(SQUEEZENET_WEIGHTS)


@pytest.fixture(scope="session")
def alexnet_weights() -> Path:
    return _need(ALEXNET_WEIGHTS)


def write_image(path: Path, rng: np.random.Generator, size=(40, 32), mode="RGB", bright=0) -> Path:
    """A random image file (textured noise) in ``mode``; ``bright`` shifts it (a 'defect')."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.clip(rng.normal(100 + bright, 30, size=(size[1], size[0], 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    if mode == "I;16":
        img = Image.fromarray(arr[..., 0].astype(np.uint16) * 257)
    elif mode != "RGB":
        img = img.convert(mode)
    img.save(path)
    return path


def make_tree(root: Path, category="toy", n_train=6, n_good=3, n_bad=3, size=(40, 32), seed=0) -> Path:
    """A tiny MVTec-layout category: train/good, test/good, test/scratch (+ masks)."""
    rng = np.random.default_rng(seed)
    cat = root / category
    for i in range(n_train):
        write_image(cat / "train" / "good" / f"{i:03d}.png", rng, size)
    for i in range(n_good):
        write_image(cat / "test" / "good" / f"{i:03d}.png", rng, size)
    for i in range(n_bad):
        write_image(cat / "test" / "scratch" / f"{i:03d}.png", rng, size, bright=80)
        mask = np.zeros((size[1], size[0]), np.uint8)
        mask[: size[1] // 2] = 255
        (cat / "ground_truth" / "scratch").mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask).save(cat / "ground_truth" / "scratch" / f"{i:03d}_mask.png")
    return root


# the debug preset on make_tree's toy category: a whole run in seconds
DEBUG = ["debug=default", "data.category=toy", "data.image_size=32", "data.batch_size=3"]


@pytest.fixture
def toy_root(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "data")


def preset(name: str = "differsqueezenet", **overrides) -> dict:
    """A model preset's hyperparameters from conf/ (the only place defaults live), with overrides."""
    from dsn.config.instantiate import model_preset

    hp = model_preset(name)
    for key, value in overrides.items():  # a flat name goes to the section that has it
        section = next((s for s in SECTIONS if isinstance(hp.get(s), dict) and key in hp[s]), None)
        (hp[section] if section else hp)[key] = value
    return hp


SECTIONS = ("features", "views", "head", "optimizer")


def tiny_model(**overrides):
    """A DifferSqueezeNet model with random weights and a small flow, for tests of the model alone."""
    from dsn.model import Detector

    return Detector.from_hparams(preset(weights="none", **overrides))


# fast liveness for tests: a dead sweep worker's trial is failed 8 s after its last heartbeat
FAST_BEATS = ("hydra.sweeper.heartbeat_interval=1", "hydra.sweeper.grace_period=8")


def sweep_cmd(root, logs, *extra) -> list[str]:
    """A sweep worker as a user starts it: the debug search on the toy category."""
    import sys

    return [
        sys.executable,
        "-m",
        "dsn.train",
        "-m",
        "hparams_search=debug",
        "debug=default",
        f"data.root={root}",
        "data.category=toy",
        "data.image_size=32",
        f"paths.log_dir={logs}",
        *FAST_BEATS,
        *extra,
    ]


def pg_sweep_cmd(root, logs, url: str, n_trials: int, *extra) -> list[str]:
    """A sweep worker on the study in the PostgreSQL database ``url`` with a budget of ``n_trials``."""
    return sweep_cmd(root, logs, f"hydra.sweeper.storage='{url}'", f"hydra.sweeper.n_trials={n_trials}", *extra)


def compose(config_name: str, overrides: list[str], out_dir: Path):
    """Compose a dsn config in-process, as the entry points would, with outputs in ``out_dir``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from dsn import CONF_DIR

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = hydra_compose(config_name, overrides=overrides, return_hydra_config=True)
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out_dir)
        cfg.paths.log_dir = str(out_dir)
        cfg.paths.cache_dir = str(out_dir / "cache")
    return cfg


# ---- real services and processes: started here, ended by PID also when a test fails ----------


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """A real PostgreSQL server (the pip package pgserver: no root, a unix socket), for the session."""
    import logging
    import os
    import signal

    pgserver = pytest.importorskip("pgserver")
    # its exit handler logs after pytest has closed the streams ("Logging error" below the summary)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    data = tmp_path_factory.mktemp("pgdata")
    server = pgserver.get_server(data, cleanup_mode="stop")
    try:
        yield server
    finally:
        server.cleanup()
        pid_file = data / "postmaster.pid"
        if pid_file.exists():  # still running: end it by its PID
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass


@pytest.fixture
def pg_url(postgres_server, request) -> str:
    """A fresh database on the session's server, as the plain ``postgresql://`` URL a user types."""
    import re

    import psycopg

    name = "t_" + re.sub(r"\W", "_", request.node.name)[:50].lower()
    base = postgres_server.get_uri()
    with psycopg.connect(
        base.replace("postgresql://postgres:@/postgres", "postgresql://postgres@/postgres"), autocommit=True
    ) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return base.replace("@/postgres?", f"@/{name}?")


@pytest.fixture
def processes(tmp_path):
    """Start subprocesses through ``processes.start(cmd)`` (output in ``p.log``, a file); each
    one's process group (its children too, e.g. submitit jobs) is killed at the end of the test,
    whatever happened."""
    import os
    import signal
    import subprocess

    class Started(list):
        def start(self, cmd, **kw):
            log = tmp_path / f"process{len(self)}.log"
            with open(log, "w") as out:
                p = subprocess.Popen(cmd, cwd=REPO, start_new_session=True, stdout=out, stderr=subprocess.STDOUT, **kw)
            p.log = log
            self.append(p)
            return p

    started = Started()
    try:
        yield started
    finally:
        for p in started:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


@pytest.fixture
def restartable_postgres(tmp_path):
    pytest.importorskip("pgserver")
    import logging

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    from restartable_postgres import RestartablePostgres

    server = RestartablePostgres(tmp_path / "pgdata")
    try:
        yield server
    finally:
        server.stop()  # by PID, also when the test failed


# ---- what the real-service tests report at the end of the run -----------------------------------

# SLURM job ids the tests submitted (test_slurm.py appends): the summary shows they were real jobs
SLURM_JOBS: list[str] = []


def pytest_sessionfinish(session):
    if hasattr(session.config, "workeroutput"):  # an xdist worker: hand them to the controller
        session.config.workeroutput["slurm_jobs"] = list(SLURM_JOBS)


def pytest_testnodedown(node, error):
    SLURM_JOBS.extend(getattr(node, "workeroutput", {}).get("slurm_jobs", []))


def pytest_terminal_summary(terminalreporter):
    if SLURM_JOBS:
        terminalreporter.write_line(f"SLURM jobs run by the tests (sbatch ids): {', '.join(SLURM_JOBS)}")


def image_datamodule(root: Path, **settings):
    """The images' DataModule of the toy category at 16 px, every setting given (as conf/ would),
    ``settings`` changing some."""
    from dsn.data import MVTecDataModule

    given = dict(
        root=str(root),
        category="toy",
        image_size=16,
        batch_size=2,
        test_batch_size=4,
        num_workers=0,
        cache_dir=None,
        seed=0,
        val_fraction=0.0,
        test_split="all",
        search_fraction=0.5,
        max_pixels=None,
        input_policy="resize",
        tile_overlap=0.25,
    )
    return MVTecDataModule(**{**given, **settings})
