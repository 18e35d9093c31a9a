"""dsn-report on runs made by the real commands (debug scale): runs are pooled only when they
differ in seed alone, the settings that tell rows apart are named, and no run is dropped silently.

One multirun (2 widths x 3 seeds), a search-half run, a failed run and a damaged file, made once."""

import json
import shutil
import subprocess
import sys

import pytest
from conftest import DEBUG, REPO, make_tree


def dsn_train(*args, multirun=False, timeout=600):
    cmd = [sys.executable, "-m", "dsn.train", *(["-m"] if multirun else []), *DEBUG, "figures.enabled=false", *args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("report_runs")
    root = make_tree(base / "data")
    logs = base / "logs"
    sweep = dsn_train(
        f"data.root={root}", "model.head.hidden=16,32", "seed=0,1,2", f"hydra.sweep.dir={logs}/widths", multirun=True
    )
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    search = dsn_train(f"data.root={root}", "data.test_split=search", f"hydra.run.dir={logs}/search")
    assert search.returncode == 0, search.stderr[-3000:]
    failed = dsn_train(f"data.root={root}", "data.category=nothing_here", f"hydra.run.dir={logs}/failed")
    assert failed.returncode != 0
    shutil.copytree(logs / "search", logs / "damaged")
    (logs / "damaged" / "metrics.json").write_text('{"auroc": 0.9, "mod')  # a write cut short
    return logs


def report(tmp_path, *args, html=False):
    out = tmp_path / "report"
    cmd = [sys.executable, "-m", "dsn.report", *map(str, args), "--out", str(out), *(["--html"] if html else [])]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    return done, out


def csv_rows(out):
    import csv

    return list(csv.DictReader((out / "report.csv").open()))


def test_seeds_pool_and_a_width_is_named(runs, tmp_path):
    done, out = report(tmp_path, runs / "widths")
    assert done.returncode == 0, done.stderr
    rows = csv_rows(out)
    assert [(r["model.head.hidden"], r["auroc_n"], r["seeds"]) for r in rows] == [
        ("16", "3", "0 1 2"),
        ("32", "3", "0 1 2"),
    ]
    assert all(0 <= float(r["auroc_mean"]) <= 100 and float(r["auroc_std"]) >= 0 for r in rows)  # numeric cells
    header = (out / "report.md").read_text().splitlines()[2]
    assert "| model.head.hidden |" in header
    assert "paper" in header and all(r["paper"] == "" for r in rows)  # random weights: no published number


def test_a_search_half_is_its_own_row_and_failed_or_damaged_runs_are_listed(runs, tmp_path):
    done, out = report(tmp_path, runs)
    assert done.returncode == 0, done.stderr
    rows = csv_rows(out)
    splits = sorted((r["data.test_split"], r["model.head.hidden"], r["auroc_n"]) for r in rows)
    assert splits == [("all", "16", "3"), ("all", "32", "3"), ("search", "", "1")] or splits == [
        ("all", "16", "3"),
        ("all", "32", "3"),
        ("search", "32", "1"),
    ]
    md = (out / "report.md").read_text()
    assert f"- failed: `{runs / 'failed'}` — " in md and "nothing_here" in md
    assert f"- damaged: `{runs / 'damaged'}` — {runs / 'damaged' / 'metrics.json'}: " in md
    assert "2 not in the table" in done.stderr


def test_a_folder_without_finished_runs_is_an_error(runs, tmp_path):
    done, _ = report(tmp_path, runs / "failed")
    assert done.returncode == 1 and done.stderr.strip() == f"error: no finished run under {runs / 'failed'} (1 failed)"


def test_the_html_page_shows_the_table2_view_in_a_real_browser(runs, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian package chromium is not installed (make system-deps)")
    size = tmp_path / "size.json"  # dsn-size's measurement of the preset of the same name
    size.write_text(json.dumps([{"preset": "differsqueezenet", "latency_ms_per_image": 38.4}]))
    done, out = report(tmp_path, runs / "widths", "--size", size, html=True)
    assert done.returncode == 0, done.stderr
    page = out / "report.html"
    assert 'alt="AUROC against latency"' in page.read_text() and 'alt="AUROC against parameters"' in page.read_text()
    assert "http" not in page.read_text().replace("http-equiv", "")  # self-contained: nothing fetched
    flags = ["--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert 'id="table2"' in dom.stdout, dom.stderr[-2000:]
    table2 = dom.stdout.split('id="table2"', 1)[1].split("</table>", 1)[0]
    assert "differsqueezenet (hidden=16)" in table2 and "differsqueezenet (hidden=32)" in table2
    assert "toy" in table2 and "(n=3)" in table2
    shot = tmp_path / "report.png"
    subprocess.run([chromium, *flags, f"--screenshot={shot}", "--window-size=1200,900", page.as_uri()], timeout=120)
    assert shot.stat().st_size > 10_000  # a rendered page (kept in the test's folder for a look), not a blank one


def test_the_report_is_one_wandb_run_with_a_table_per_view(runs, tmp_path):
    from wandb_files import read_run

    done, out = report(tmp_path, runs, "--wandb", "dsn-test")
    assert done.returncode == 0, done.stderr[-2000:]
    (run_dir,) = (out / "wandb").glob("offline-run-*")
    run = read_run(run_dir)
    assert run.job_type == "report" and run.exit_code == 0 and run.summary["left_out"] == 2
    table = json.loads((run_dir / "files" / run.summary["table2/path"]).read_text())
    assert table["columns"][0] == "category" and any("hidden=16" in c for c in table["columns"])
    every = json.loads((run_dir / "files" / run.summary["every_setting/path"]).read_text())
    n = every["columns"].index("auroc_n")
    assert sorted(r[n] for r in every["data"]) == [1, 3, 3]  # numbers, as in report.csv
    assert "auroc/toy/path" in run.summary  # the per-category plot, as an image
