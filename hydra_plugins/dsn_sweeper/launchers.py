"""Trial jobs whose death never takes the worker down: hydra-submitit-launcher's launchers with
a launch that returns one result per job.

The stock launch collects a batch's results in one pass that raises at the first job that was
cancelled, killed, timed out or ran out of memory: the worker exits, and the batch's other trials
(finished or not) are never told. Here a job that died becomes a FAILED result whose error names
the job and its scheduler state, so the sweeper fails that trial alone (user attribute
``fail_reason``) and goes on; a batch that cannot be submitted (sbatch refuses it) fails its trials
with the scheduler's one-line reason instead of leaving them RUNNING.

Resources follow the trainer: ``gpus_per_node: null`` asks for one GPU when the runs train on a
GPU (``trainer.accelerator`` gpu or cuda) and none otherwise, so a CPU run never asks a GPU-less
node for a GPU. The job itself is the stock launcher's (``__call__``), so jobs run as before.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher, SlurmLauncher

log = logging.getLogger(__name__)


class TrialJobDied(RuntimeError):
    """A trial's job ended without a result; the message names the job and its state."""

    infrastructure = True  # not the trial's fault: the sweeper resumes it (same number and values)


def failed_result(err: BaseException) -> JobReturn:
    ret = JobReturn()
    ret.status = JobStatus.FAILED
    ret._return_value = err  # JobReturn.return_value raises it, as for a job that raised
    return ret


def last_line(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).strip().splitlines() if ln.strip()]
    return f"{type(err).__name__}: {lines[-1] if lines else ''}"[:300]


def gpus_for(accelerator: str) -> int:
    return 1 if str(accelerator).lower() in ("gpu", "cuda") else 0


class _OneResultPerJob:
    """The launch of dsn's launchers (mixed into the stock ones, which keep their configs)."""

    _EXECUTOR: str

    def executor(self):
        import submitit

        params = dict(self.params)
        if params.get("gpus_per_node") is None:
            params["gpus_per_node"] = gpus_for(self.config.trainer.get("accelerator", "cpu"))
        folder = params.pop("submitit_folder")
        init = {}
        if "max_num_timeout" in params:  # the one setting submitit takes when the executor is made
            init[f"{self._EXECUTOR}_max_num_timeout"] = params.pop("max_num_timeout")
        executor = submitit.AutoExecutor(folder=folder, cluster=self._EXECUTOR, **init)
        shared = set(OmegaConf.structured(BaseQueueConf).keys())  # the rest take the executor's prefix
        executor.update_parameters(**{k if k in shared else f"{self._EXECUTOR}_{k}": v for k, v in params.items()})
        return executor

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        numbers = range(initial_job_idx, initial_job_idx + len(job_overrides))
        args = [
            (list(o), "hydra.sweep.dir", n, f"job_id_for_{n}", Singleton.get_state())
            for n, o in zip(numbers, job_overrides)
        ]
        try:
            jobs = self.executor().map_array(self, *zip(*args))
        except Exception as err:  # nothing was submitted: sbatch's reason, one line
            reason = TrialJobDied(f"the trial jobs could not be submitted: {last_line(err)}")
            reason.infrastructure = False  # a request the scheduler refuses is refused again: fail them
            log.warning(str(reason))
            return [failed_result(reason) for _ in job_overrides]
        log.info(f"{len(jobs)} trial job(s) submitted: {', '.join(str(j.job_id) for j in jobs)}")
        return [self.result(job) for job in jobs]

    @staticmethod
    def result(job) -> JobReturn:
        try:
            return job.results()[0]
        except Exception as err:  # cancelled, killed, timed out, out of memory
            try:
                state = job.state
            except Exception:  # the scheduler cannot say
                state = "unknown"
            reason = TrialJobDied(f"job {job.job_id} ended without a result (state {state}): {last_line(err)}")
            log.warning(str(reason))
            return failed_result(reason)


class DsnSlurmLauncher(_OneResultPerJob, SlurmLauncher):
    pass


class DsnLocalLauncher(_OneResultPerJob, LocalLauncher):
    pass
