"""Checkpoints: never unpickle arbitrary objects; foreign or damaged files are clear errors."""

import pytest
import torch

from dsn.lit.checkpoints import load_module


def test_tampered_checkpoint_with_python_objects_is_refused(tmp_path):
    f = tmp_path / "evil.ckpt"
    torch.save({"hyper_parameters": {"backbone": "squeezenet1_1"}, "payload": object()}, f)
    with pytest.raises(ValueError, match="cannot be read safely"):
        load_module(f)


def test_foreign_checkpoint(tmp_path):
    f = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1)}}, f)
    with pytest.raises(ValueError, match="not a dsn checkpoint"):
        load_module(f)


def test_checkpoint_from_another_version(tmp_path):
    f = tmp_path / "old.ckpt"
    hp = {"backbone": "squeezenet1_1", "n_features": 128, "n_scales": 3, "n_blocks": 1, "hidden": 8}
    torch.save({"hyper_parameters": hp, "state_dict": {"model.flow.unknown": torch.zeros(1)}}, f)
    with pytest.raises(ValueError, match="does not fit this version"):
        load_module(f)


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="ckpt_path"):
        load_module(tmp_path / "none.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="cannot be read safely"):
        load_module(tmp_path / "junk.ckpt")


def test_checkpoint_writer_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    from dsn.lit.checkpoints import StreamingCheckpointIO

    io = StreamingCheckpointIO()
    target = tmp_path / "ckpts" / "last.ckpt"
    io.save_checkpoint({"w": torch.ones(3)}, target)
    assert torch.equal(torch.load(target, weights_only=True)["w"], torch.ones(3))

    def crash(*args, **kwargs):  # a failure in the middle of writing the new file
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        io.save_checkpoint({"w": torch.zeros(3)}, target)
    assert torch.equal(torch.load(target, weights_only=True)["w"], torch.ones(3))  # the old one is intact
    assert [p.name for p in target.parent.iterdir()] == ["last.ckpt"]
