"""One W&B run per trial, and a sweep summary run, read back from W&B's own offline files."""

import json
import sys

import optuna
import pytest
from conftest import make_tree
from wandb_files import read_run

STUDY = "debug_differsqueezenet_toy"  # hparams_search=debug on differsqueezenet, category toy


@pytest.fixture
def in_process_multirun(monkeypatch):
    """Run ``dsn-train -m <args>`` in this process, as Hydra's entry point would."""
    from hydra.core.global_hydra import GlobalHydra

    from dsn.train import main

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["dsn-train", "-m", *args])
        GlobalHydra.instance().clear()
        main()

    yield run
    GlobalHydra.instance().clear()
    import wandb

    wandb.teardown()  # ends W&B's service process


def test_each_trial_is_its_own_wandb_run_and_the_sweep_has_a_summary(tmp_path, in_process_multirun):
    root = make_tree(tmp_path / "data")
    logs = tmp_path / "logs"
    in_process_multirun(
        "hparams_search=debug",
        "debug=default",
        "logger=wandb",
        f"data.root={root}",
        "data.category=toy",
        "data.image_size=32",
        f"paths.log_dir={logs}",
        "figures.enabled=false",
    )
    sweep_dir = logs / "debug" / "multiruns" / STUDY
    study = optuna.load_study(study_name=STUDY, storage=f"sqlite:///{sweep_dir}.db")
    trials = study.get_trials()
    assert len(trials) == 3 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)

    names = set()
    for t in trials:
        (run_dir,) = (sweep_dir / str(t.number) / "wandb").glob("offline-run-*")  # exactly one run per trial
        run = read_run(run_dir)
        names.add(run.name)
        assert run.name.startswith(f"trial {t.number} toy:") and f"hidden={t.params['model.head.hidden']}" in run.name
        assert run.group == STUDY and run.exit_code == 0
        assert run.config["model"]["head"]["hidden"] == t.params["model.head.hidden"]  # this trial, not another
        assert run.config["model"]["optimizer"]["lr"] == pytest.approx(t.params["model.optimizer.lr"])
        assert run.history["test/auroc/toy"] == [pytest.approx(t.value)]  # one test, this trial's
        assert run.summary["objective/auroc"] == pytest.approx(t.value)
    assert len(names) == 3

    (summary_dir,) = (sweep_dir / "wandb").glob("offline-run-*")
    summary = read_run(summary_dir)
    assert summary.job_type == "sweep-summary" and summary.group == STUDY and summary.exit_code == 0
    assert summary.summary["n_trials"] == 3 and summary.summary["n_complete"] == 3
    table = json.loads((summary_dir / "files" / summary.summary["trials/path"]).read_text())
    col = table["columns"].index("auroc")  # the metric by name
    assert sorted(row[col] for row in table["data"]) == pytest.approx(sorted(t.value for t in trials))
    assert "optimization_history/path" in summary.summary  # Optuna's plot, as an image


def test_a_failed_run_is_marked_failed_in_wandb(tmp_path, toy_root):
    """A run that raises ends its W&B run with a non-zero exit code (the next starts afresh)."""
    from conftest import compose

    from dsn.train import train

    cfg = compose(
        "train",
        [
            "debug=default",
            "logger=wandb",
            f"data.root={toy_root}",
            "data.category=toy",
            "data.image_size=32",
            "model.optimizer.lr=1e6",
            "figures.enabled=false",
        ],
        tmp_path,
    )
    with pytest.raises((FloatingPointError, ValueError), match="diverged"):  # NaN loss or NaN scores
        train(cfg)
    (run_dir,) = (tmp_path / "wandb").glob("offline-run-*")
    assert read_run(run_dir).exit_code == 1
