"""Sweeps: a real 3-trial random search on the debug model, its resume after a kill, and the
two-objective Pareto output. Each sweep runs as the user would run it, in a subprocess.
Several workers on one study: test_sweep_workers.py."""

import os
import signal
import subprocess
import time

import optuna
from conftest import REPO, make_tree, sweep_cmd

COMPLETE = optuna.trial.TrialState.COMPLETE


def study(logs):
    return optuna.load_study(
        study_name="debug_differsqueezenet_toy",
        storage=f"sqlite:///{logs}/debug/multiruns/debug_differsqueezenet_toy.db",
    )


def best_line(output: str) -> str:
    return next(ln for ln in output.splitlines() if "best trial: trial " in ln).split("] ", 1)[1]


def test_three_trial_sweep_says_what_it_found_also_when_run_again(tmp_path):
    root = make_tree(tmp_path / "data")
    first = subprocess.run(sweep_cmd(root, tmp_path / "logs"), cwd=REPO, check=True, capture_output=True, text=True)
    s = study(tmp_path / "logs")
    assert len(s.get_trials(states=(COMPLETE,))) == 3
    assert all(0.0 <= t.value <= 1.0 and 8 <= t.params["model.head.hidden"] <= 32 for t in s.trials)
    out = tmp_path / "logs" / "debug" / "multiruns" / "debug_differsqueezenet_toy"
    assert (out / "optimization_results.csv").is_file()
    assert (out / "all_trials.csv").read_text().startswith("trial,state,auroc,duration_s,output_dir,")  # by name
    best = best_line(first.stdout + first.stderr)
    assert best.startswith(f"best trial: trial {s.best_trial.number}: auroc={s.best_value:.4g} | ")
    assert f"model.head.hidden={s.best_trial.params['model.head.hidden']}" in best
    again = subprocess.run(sweep_cmd(root, tmp_path / "logs"), cwd=REPO, check=True, capture_output=True, text=True)
    shown = again.stdout + again.stderr
    assert "study 'debug_differsqueezenet_toy' is finished (3 of hydra.sweeper.n_trials=3 trials complete)" in shown
    assert best_line(shown) == best and len(study(tmp_path / "logs").trials) == 3  # nothing run again


def test_killed_sweep_resumes_without_repeating_trials(tmp_path, processes):
    root = make_tree(tmp_path / "data", n_train=30)
    logs = tmp_path / "logs"
    cmd = sweep_cmd(root, logs, "trainer.max_epochs=30")
    proc = processes.start(cmd)
    db, deadline = logs / "debug" / "multiruns" / "debug_differsqueezenet_toy.db", time.monotonic() + 180
    first = None
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                done = study(logs).get_trials(states=(COMPLETE,))
            except Exception:  # the file exists before the study does
                done = []
            if done:
                first = done[0]
                break
        time.sleep(0.1)
    assert first is not None and proc.poll() is None, "the sweep ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = study(logs).trials
    assert sum(t.state == COMPLETE for t in before) < 3

    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)  # the same command again
    after = study(logs).trials
    done = [t for t in after if t.state == COMPLETE]
    assert len(done) == 3  # exactly the budget: nothing completed was run again
    assert after[first.number].params == first.params and after[first.number].value == first.value
    assert all(t.state in (COMPLETE, optuna.trial.TrialState.FAIL) for t in after)  # no trial left RUNNING


def test_two_objectives_give_a_pareto_front(tmp_path):
    root = make_tree(tmp_path / "data")
    subprocess.run(
        sweep_cmd(
            root,
            tmp_path / "logs",
            "optimized_metrics=[auroc,flow_params]",
            "hydra.sweeper.directions=[maximize,minimize]",
        ),
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    out = tmp_path / "logs" / "debug" / "multiruns" / "debug_differsqueezenet_toy"
    assert (out / "pareto_front.png").stat().st_size > 1000
    assert "Pareto front" in (out / "optimization_results.md").read_text()
    assert "objectives auroc (maximize), flow_params (minimize)" in (out / "optimization_results.md").read_text()
    assert (out / "all_trials.csv").read_text().startswith("trial,state,auroc,flow_params,")
    s = study(tmp_path / "logs")
    assert all(len(t.values) == 2 and t.values[1] > 0 for t in s.get_trials(states=(COMPLETE,)))
    from hydra_plugins.dsn_sweeper._summary import plots

    (fig,) = plots(s, ["auroc", "flow_params"]).values()
    assert (fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()) == ("auroc", "flow_params")  # not "Objective 0/1"


def test_a_worker_stopped_outside_training_hands_its_trial_on(tmp_path, processes):
    """SIGTERM while a trial caches its features (or starts, or between trials): the worker exits
    143 at once and its trial waits, RUNNING, to be resumed with the same number and values by the
    next worker (it used to die silently and leave the trial to the stale check, or to nobody)."""
    root = make_tree(tmp_path / "data", n_train=40)
    logs, cache = tmp_path / "logs", tmp_path / "cache"
    # a bank that takes seconds to cache, so the poll below sees its partial file even on a busy machine
    bank = [f"feature_cache.dir={cache}", "feature_cache.bank_views=256", "feature_cache.batch_images=1"]
    cmd = sweep_cmd(root, logs, *bank, "feature_cache.save_every_s=0", "hydra.sweeper.n_trials=2")
    worker = processes.start(cmd)
    deadline = time.monotonic() + 120
    while not list(cache.glob("train-features-*.partial.pt")) and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.send_signal(signal.SIGTERM)  # to the worker alone, as SLURM's signal to a task's processes
    assert worker.wait(timeout=60) == 143, worker.log.read_text()[-3000:]
    said = [ln for ln in worker.log.read_text().splitlines() if ln.startswith("error: ")]
    assert said and "outside training" in said[-1], said
    (held,) = study(logs).get_trials(states=(optuna.trial.TrialState.RUNNING,))
    assert held.user_attrs["requeue"] and "outside training" in held.user_attrs["interruptions"][0]
    assert processes.start(cmd).wait(timeout=300) == 0
    trials = study(logs).get_trials()
    assert [(t.number, t.state) for t in trials] == [(0, COMPLETE), (1, COMPLETE)]  # resumed, not redrawn
    assert trials[held.number].params == held.params
