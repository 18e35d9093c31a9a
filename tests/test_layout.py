"""The layering written in dsn/__init__.py, checked on every module's imports (parsed, not run),
and the file-size habit (no module over 300 lines)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

PACKAGE = REPO / "dsn"
# level of each part: a module may import its own part and parts of a strictly lower level
LEVEL = {"commands": 6, "run": 5, "config": 4, "lit": 3, "results": 2, "deploy": 2, "model": 1, "data": 1, "utils": 0}


def part_of(module: str) -> str:
    """``dsn.run.training`` -> run; ``dsn.train`` -> commands; ``dsn`` -> utils (CONF_DIR only)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "utils"
    return parts[1] if parts[1] in LEVEL else "commands"


def imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(REPO).with_suffix("")
        name = ".".join(p for p in rel.parts if p != "__init__")
        yield name, path


@pytest.mark.parametrize("name, path", list(modules()), ids=lambda v: v if isinstance(v, str) else "")
def test_imports_point_down_the_layers(name, path):
    mine = part_of(name)
    for imported in imports(path):
        if imported.split(".")[0] != "dsn" or imported == "dsn":
            continue
        other = part_of(imported)
        assert other == mine or LEVEL[other] < LEVEL[mine], f"{name} ({mine}) imports {imported} ({other})"


@pytest.mark.parametrize("name, path", list(modules()), ids=lambda v: v if isinstance(v, str) else "")
def test_frameworks_stay_in_their_layers(name, path):
    top = {i.split(".")[0] for i in imports(path)}
    part = part_of(name)
    if part in ("model", "data", "results", "deploy", "utils"):
        assert not top & {"hydra", "omegaconf"}, f"{name} uses Hydra (only commands, run, config, lit may)"
    if part in ("model", "utils", "deploy"):
        assert not top & {"lightning", "wandb"}, f"{name} imports Lightning or W&B"
    if part == "data":  # the LightningDataModules (images; their view features) live here, apart from the Datasets
        datamodules = ("dsn.data.datamodule", "dsn.data.features_datamodule")
        assert "wandb" not in top and (name in datamodules or "lightning" not in top), name


def test_edge_runtime_and_image_files_need_no_torch():
    code = (
        "import sys, dsn.deploy.edge, dsn.utils.image_files, dsn.utils.verdict\n"
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_commands_alone_at_the_top_and_no_module_over_300_lines():
    top = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert top == {"train", "evaluate", "predict", "export", "report", "size", "cache"}
    long = {
        str(p.relative_to(REPO)): n
        for p in REPO.glob("*/**/*.py")
        if ".venv" not in p.parts and (n := len(p.read_text().splitlines())) > 300
    }
    assert not long, long


def test_what_the_config_builds_takes_no_defaults():
    """One source of truth per setting: classes and functions built or fed from conf/ take every
    setting by keyword with no default of their own (conf/ holds the values)."""
    import inspect

    from dsn.data import MVTecDataModule
    from dsn.data.features_datamodule import FeaturesDataModule
    from dsn.lit.detector_module import DetectorLightning
    from dsn.model import CouplingFlow, Detector, ViewPolicy
    from dsn.model.features import MultiScaleFeatures
    from dsn.model.heads import head_class, head_kinds
    from dsn.model.stack_features import embed_stack
    from dsn.results.run_figures import write_run_figures
    from dsn.run.feature_cache import prepare_features, split_embedder
    from hydra_plugins.dsn_sweeper._sweeper import OptunaWorker

    for obj in (
        MVTecDataModule,
        DetectorLightning,
        Detector,
        ViewPolicy,
        *(head_class(kind) for kind in head_kinds()),
        CouplingFlow,
        MultiScaleFeatures,
        OptunaWorker,
        FeaturesDataModule,
        prepare_features,
        split_embedder,
        embed_stack,
        write_run_figures,
    ):
        params = inspect.signature(obj).parameters.values()
        with_default = [p.name for p in params if p.default is not inspect.Parameter.empty and p.name != "log_every_s"]
        assert not with_default, f"{obj.__qualname__} has defaults of its own: {with_default}"


# a file path in prose, with an optional ``::test_name`` after it
PATH_IN_TEXT = re.compile(
    r"(?<![\w./-])((?:dsn|conf|experiments|tests|hydra_plugins)/[\w./-]*\.(?:py|yaml|md|sh|json|csv|txt))(?:::(\w+))?"
)


# lab scripts retired (their committed tables stay, and the notes that ran them name them): where
# to read them
RETIRED = {
    "experiments/tap_table.py": "6d46538",
    "experiments/mt_reference_table.py": "6d46538",
    "experiments/cpu_tables.sh": "6d46538",  # its recipes: conf/experiment/lab/
}


def documents() -> list[Path]:
    """Every file whose prose points readers at other files: READMEs, scripts, code, configs."""
    globs = ["README.md", "Makefile", "docs/*.md", "experiments/**/*.md", "experiments/**/*.py", "experiments/**/*.sh"]
    globs += ["dsn/**/*.py", "conf/**/*.yaml", "tests/*.py", "hydra_plugins/**/*.py"]
    return sorted({p for g in globs for p in REPO.glob(g)})


def test_every_file_and_test_the_docs_name_exists():
    """Files move (the layout issue moved every module): a README or comment that names
    the fault tests' old single file after it became two sends the reader nowhere."""
    stale = []
    for doc in documents():
        for m in PATH_IN_TEXT.finditer(doc.read_text()):
            path, name = m.group(1), m.group(2)
            found = [f for f in (REPO / path, doc.parent / path) if f.is_file()]
            if not found and path not in RETIRED:
                stale.append(f"{doc.relative_to(REPO)}: {path}")
            elif name and not re.search(rf"(def|class) {name}\b", found[0].read_text()):
                stale.append(f"{doc.relative_to(REPO)}: {path}::{name}")
    assert not stale, "documents name files or tests that do not exist:\n" + "\n".join(stale)
