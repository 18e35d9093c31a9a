"""A committed results table is what dsn-report makes of the committed runs: rebuilt from their
metrics files with the command its header names, it comes out identical."""

import subprocess
import sys

import pytest
from conftest import REPO

TABLES = ["experiments/results/heads"]


@pytest.mark.parametrize("folder", TABLES)
def test_a_committed_table_is_rebuilt_identically_by_dsn_report(folder, tmp_path):
    committed = REPO / folder
    command = (committed / "report.md").read_text().splitlines()[0]
    assert command == f"Command: `dsn-report {folder}/runs --out {folder} --html`"
    done = subprocess.run(
        [sys.executable, "-m", "dsn.report", f"{folder}/runs", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for name in ("report.md", "report.csv", "table2.md", "table2.tex", "table2.csv"):
        rebuilt = (tmp_path / name).read_text().splitlines()
        kept = (committed / name).read_text().splitlines()
        if name.endswith(".md"):  # the command line names the output folder
            rebuilt, kept = rebuilt[1:], kept[1:]
        assert rebuilt == kept, name
