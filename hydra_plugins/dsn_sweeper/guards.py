"""What a worker checks and cleans before its study is touched: a launcher this machine can use,
no password in the config the launcher saves; and the error that stops a sweep whose trials keep
failing."""

from __future__ import annotations

import shutil

from omegaconf import DictConfig, OmegaConf

from dsn.utils.secrets import redact


def check_launcher(config: DictConfig) -> None:
    """Refuse a SLURM launcher where SLURM is absent, in one line, before the study is touched
    (SystemExit passes Hydra's error reporting without a traceback)."""
    target = str(OmegaConf.select(config, "hydra.launcher._target_", default=""))
    if "Slurm" in target and shutil.which("sbatch") is None:
        raise SystemExit(
            "error: hydra/launcher=slurm needs SLURM, but there is no 'sbatch' on this machine's PATH: "
            "run the command on a SLURM login node, or use hydra/launcher=local (processes on this "
            "machine) or the default launcher"
        )


class TrialsFailing(RuntimeError):
    """Trial after trial fails: the sweep stops rather than burn its budget."""

    one_line = True  # its message says what to do: told without a traceback


def hide_passwords(config: DictConfig) -> None:
    """Mask the storage URL's password in the config the launcher saves and the trials receive
    (the sweeper keeps the real URL; trials never open the storage)."""
    from omegaconf import open_dict

    with open_dict(config):
        if config.hydra.sweeper.get("storage"):
            config.hydra.sweeper.storage = redact(str(config.hydra.sweeper.storage))
        overrides = config.hydra.overrides
        for group in ("hydra", "task"):
            if overrides.get(group) is not None:
                overrides[group] = [redact(str(o)) for o in overrides[group]]
