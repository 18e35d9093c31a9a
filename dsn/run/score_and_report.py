"""Test a trained module and write what a run reports: metrics.json, then figures and pixel AUROC.

Shared by ``dsn-train`` (after fitting) and ``dsn-eval`` (on a saved checkpoint), so both write
the same metrics file and the same figures for the same weights.
"""

from __future__ import annotations

from collections.abc import Callable

from omegaconf import DictConfig, OmegaConf

from dsn.results.run_figures import write_run_figures
from dsn.results.run_identity import BOOKKEEPING_CALLBACKS, KEPT, is_random, run_identity
from dsn.results.run_metrics import run_metrics
from dsn.run.run_record import RunRecord
from dsn.utils.atomic import write_json
from dsn.utils.provenance import dsn_version, git_commit, state_digest


def score_and_report(
    cfg: DictConfig,
    trainer,
    module,
    datamodule,
    epochs: int,
    run: RunRecord,
    extra: Callable[[], dict] | None = None,
) -> dict:
    """Score the test set, write ``metrics.json`` (before the slower figures, so a crash while
    drawing keeps the numbers), then the figures of ``cfg.figures``; returns the metrics.
    ``extra`` is called after testing (it may read the module's test scores). The run's stage
    peaks and times gain "test" and "figures" and are stored as ``peak_rss_mb_by_stage`` and
    ``wall_time_s_by_stage``."""
    trainer.test(module, datamodule=datamodule, verbose=False)
    metrics = run_metrics(module, datamodule.test_set, epochs, run.elapsed())
    metrics.update(extra() if extra else {})
    metrics.update(provenance(cfg, module, str(trainer.precision)))
    run.stage("test")
    metrics["peak_rss_mb_by_stage"] = run.peaks
    metrics["wall_time_s_by_stage"] = run.seconds
    metrics_file = write_json(run.metrics_file, metrics)
    fig = cfg.get("figures")
    if fig and fig.enabled:
        metrics.update(
            write_run_figures(
                module,
                datamodule.test_set,
                cfg.paths.output_dir,
                loggers=trainer.loggers,
                gradient_maps=fig.gradient_maps,
                map_rotations=fig.map_rotations,
                with_pixel_auroc=fig.pixel_auroc,
            )
        )
        metrics["peak_rss_mb"] = run.stage("figures")
        metrics["wall_time_s"] = round(run.elapsed(), 1)  # the whole run, figures included
        write_json(metrics_file, metrics)
    return metrics


def provenance(cfg: DictConfig, module, precision: str) -> dict:
    """What defines the run's result (its identity, :mod:`dsn.results.run_identity`) and what made
    it: the weights' source and digest, dsn's version and commit."""
    return {
        **identity_fields(scored_sections(cfg, module), dict(module.hparams), module.model.features, precision),
        "dsn_version": dsn_version(),
        "dsn_commit": git_commit(),
    }


def identity_fields(sections: dict, hparams: dict, features, precision: str) -> dict:
    """``identity``, ``weights_source`` and ``weights_sha256`` of a scoring under the identity
    ``sections`` (:func:`scored_sections`) of a module with ``hparams`` and the features module
    ``features`` (its frozen backbone is hashed)."""
    weights = hparams["features"].get("weights")
    digest = None if is_random(weights) else state_digest(features)
    model_hp = OmegaConf.to_container(OmegaConf.create(hparams), resolve=True)
    return {
        "identity": run_identity(model_hp, sections, digest, precision),
        "weights_source": "random" if digest is None else str(weights),
        "weights_sha256": digest,
    }


SCORED_HERE = ("category", "test_split", "search_fraction")  # the data settings a scoring chooses itself


def scored_sections(cfg: DictConfig, module) -> dict:
    """The identity sections of a scoring: those the module was trained under (kept in its
    checkpoint; the same as ``cfg``'s in the training run itself) with the test set this scoring
    chose (``data.category``, ``data.test_split``, ``data.search_fraction``). A ``dsn-eval`` thus
    differs from its run only in what it changed, never in the eval command's defaults (its
    passes, held-out share, batch size). A checkpoint written before it kept them: ``cfg``'s."""
    here = identity_sections(cfg)
    if not module.trained_under:
        return here
    out = {section: dict(values) for section, values in module.trained_under.items()}
    data = here.get("data", {})
    out.setdefault("data", {}).update({k: data[k] for k in SCORED_HERE if k in data})
    return out


def identity_sections(cfg: DictConfig) -> dict:
    """The config values an identity reads, resolved one by one (the rest of the config may hold
    interpolations that only resolve inside a Hydra run, e.g. the output folder)."""
    out = {}
    for section, keys in KEPT.items():
        node = cfg.get(section)
        if node is not None:
            out[section] = {k: OmegaConf.select(cfg, f"{section}.{k}") for k in keys if k in node}
    callbacks = cfg.get("callbacks") or {}
    out["callbacks"] = {
        name: OmegaConf.to_container(node, resolve=True)
        for name, node in callbacks.items()
        if name not in BOOKKEEPING_CALLBACKS and node is not None
    }
    return out
