"""Reading W&B's offline run files (``run-<id>.wandb``) back, the way ``wandb sync`` would.

The file is W&B's header (``:W&B``, 2 magic bytes, a version byte) followed by LevelDB-style log
records in 32 KiB blocks (4-byte checksum, 2-byte length, 1-byte type: full / first / middle /
last), each record one protobuf ``Record``. Used by the tests to check what a run really wrote.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from wandb.proto import wandb_internal_pb2

BLOCK = 32 * 1024
HEADER = 7


def records(path: Path) -> list:
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    out, pos, parts = [], HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:  # a block's tail too short for a record header is padding
            pos += left
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        if kind == 0:  # zero padding up to the end of the block
            pos += left
            continue
        parts += data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind in (1, 4):  # a full record, or the last chunk of one
            rec = wandb_internal_pb2.Record()
            rec.ParseFromString(parts)
            out.append(rec)
            parts = b""
    return out


@dataclass
class OfflineRun:
    """What one offline run holds: identity, config, logged values, exit code."""

    name: str = ""
    group: str = ""
    job_type: str = ""
    config: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)  # key -> list of logged values
    summary: dict = field(default_factory=dict)
    exit_code: int | None = None


def _key(item) -> str:
    return item.key or "/".join(item.nested_key)


def read_run(run_dir: Path) -> OfflineRun:
    """The run in ``run_dir`` (an ``offline-run-*`` folder), once W&B has written all of it.

    ``run.finish()`` returns before W&B's service has flushed the run's file: the service closes
    the run's stream on a fire-and-forget message, so a read straight after ``finish`` can find the
    7-byte header alone (seen in CI). ``wandb.teardown()`` waits for the service to exit, which
    closes every stream; the next ``wandb.init`` starts a new service.
    """
    import wandb

    wandb.teardown()
    (file,) = Path(run_dir).glob("run-*.wandb")
    run = OfflineRun()
    for rec in records(file):
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            run.name, run.group, run.job_type = rec.run.display_name, rec.run.run_group, rec.run.job_type
            for item in rec.run.config.update:
                run.config[_key(item)] = json.loads(item.value_json)
        elif kind == "config":
            for item in rec.config.update:
                run.config[_key(item)] = json.loads(item.value_json)
        elif kind == "history":
            for item in rec.history.item:
                run.history.setdefault(_key(item), []).append(json.loads(item.value_json))
        elif kind == "summary":
            for item in rec.summary.update:
                run.summary[_key(item)] = json.loads(item.value_json)
        elif kind == "exit":
            run.exit_code = rec.exit.exit_code
    run.config = {k: v.get("value", v) if isinstance(v, dict) else v for k, v in run.config.items()}
    return run
