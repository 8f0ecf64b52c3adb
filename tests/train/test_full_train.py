"""nas-train on a tiny ImageNet-layout folder: end to end, resumable, distributed on CPU."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import timm
import torch

from nas.cli.train import main
from nas.cost import format_amount
from nas.report.tables import FULL_TRAINING
from nas.report.writer import append_result
from nas.space import load_spec, save_spec
from nas.train import checkpoint as ckpt
from nas.train.distributed import DistContext, accumulation_for
from nas.train.full import FullTrainer, Preempted, RunConfig
from nas.train.recipe import Recipe
from tests.helpers import tiny_spec

from .full_fixtures import FAST, make_image_folder, subprocess_env, train_command

CPU = DistContext(0, 1, 0, torch.device("cpu"))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_image_folder(tmp_path_factory.mktemp("imagenet"))


@pytest.fixture
def spec_file(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    save_spec(tiny_spec("attn", width=16, depth=1), path)
    return path


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _ckpt(out: Path) -> dict:
    (path,) = out.glob(f"*/{ckpt.CHECKPOINT_NAME}")
    return ckpt.load(path)


def test_one_epoch_end_to_end(data, spec_file, tmp_path, one_thread):
    out = tmp_path / "runs"
    args = ["--arch", str(spec_file), "--data", f"imagenet:{data}", "--output", str(out), *FAST]
    assert main(args) == 0
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    log = pd.read_csv(run_dir / "log.csv")
    assert list(log.epoch) == [1]
    assert {"train_loss", "top1", "top5", "lr", "images_per_s", "epoch_seconds"} <= set(log)
    assert log.images_per_s.iloc[0] > 0 and 0 <= log.top1.iloc[0] <= 100
    rows = pd.read_csv(out / "full_training.csv", dtype={"arch_id": str})
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row.arch_id == run_dir.name and row["name"] == "tiny" and row.epochs == 1
    assert row.flops > 0 and row.params > 0 and row.num_classes == 4
    assert row.gpu_hours == 0 and row.device == "1x cpu" and Path(row.checkpoint).is_file()
    # the costs are of what was trained (4 classes, not the spec's 10): spec.yaml names it
    trained = load_spec(run_dir / "spec.yaml")
    assert trained.num_classes == 4 and row.trained_arch_id == trained.arch_id != row.arch_id
    result = json.loads((run_dir / "result.json").read_text())
    assert (result["arch_id"], result["trained_arch_id"]) == (row.arch_id, trained.arch_id)
    # the same command again: nothing to train, no second row
    saved = (run_dir / "last.pt").stat().st_mtime_ns
    assert main(args) == 0
    assert len(pd.read_csv(out / "full_training.csv")) == 1
    assert (run_dir / "last.pt").stat().st_mtime_ns == saved


def test_a_full_training_csv_of_an_older_layout_is_rewritten_in_the_current_one(tmp_path):
    path = tmp_path / "full_training.csv"
    path.write_text("arch_id,name,top1,checkpoint\n0123456789,old,71.5,/runs/old/last.pt\n")
    assert append_result(
        {
            "arch_id": "abcdefabcd",
            "trained_arch_id": "fedcbafedc",
            "name": "new",
            "top1": 80.0,
            "checkpoint": "/runs/new/last.pt",
        },
        path,
    )
    rows = pd.read_csv(path, dtype={"arch_id": str, "trained_arch_id": str})
    assert tuple(rows.columns) == FULL_TRAINING.names
    assert list(rows.arch_id) == ["0123456789", "abcdefabcd"] and rows.top1.tolist() == [71.5, 80]
    assert pd.isna(rows.trained_arch_id[0]) and rows.trained_arch_id[1] == "fedcbafedc"


def test_the_checkpoint_alone_rebuilds_the_model(data, spec_file, tmp_path, one_thread):
    out = tmp_path / "runs"
    assert (
        main(["--arch", str(spec_file), "--data", f"imagenet:{data}", "--output", str(out), *FAST])
        == 0
    )
    (path,) = out.glob("*/last.pt")
    state = ckpt.load(path)
    model = ckpt.model_from_checkpoint(path, ema=False)
    assert model.num_classes == 4 and model.spec.resolution == 32
    assert all(torch.equal(v, state["state_dict"][k]) for k, v in model.state_dict().items())
    ema = ckpt.model_from_checkpoint(path, ema=True)
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 4)
    assert any(not torch.equal(a, b) for a, b in zip(model.parameters(), ema.parameters()))
    for key in ("optimizer", "scheduler", "scaler", "rng", "recipe", "spec", "history"):
        assert key in state
    # the same network through timm, with the weights the run reports as best
    result = json.loads((path.parent / "result.json").read_text())
    assert result["weights"] == state["best"] in ("ema", "model")
    best = ema if result["weights"] == "ema" else model
    loaded = timm.create_model(
        "nas_arch", pretrained=True, pretrained_cfg_overlay=dict(file=str(path))
    )
    assert loaded.num_classes == 4 and loaded.spec == model.spec
    assert all(torch.equal(v, best.state_dict()[k]) for k, v in loaded.state_dict().items())


def test_other_settings_do_not_silently_continue_a_run(
    data, spec_file, tmp_path, one_thread, capsys
):
    out = tmp_path / "runs"
    base = ["--arch", str(spec_file), "--data", f"imagenet:{data}", "--output", str(out)]
    assert main([*base, *FAST]) == 0
    assert main([*base, *FAST, "--mixup", "0.5"]) == 2
    assert "mixup 0.8 -> 0.5" in capsys.readouterr().err
    assert main([*base, *FAST, "--output", str(tmp_path / "empty"), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_missing_data_is_one_clear_line(spec_file, tmp_path, capsys):
    (tmp_path / "in1k" / "train" / "n01").mkdir(parents=True)
    assert main(["--arch", str(spec_file), "--data", f"imagenet:{tmp_path / 'in1k'}", *FAST]) == 2
    err = capsys.readouterr().err
    assert "train/n01/ holds no images" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "option, field",
    [
        (["--accum-steps", "0"], "--accum-steps"),
        (["--opt", "nosuchopt"], "--opt"),
        (["--mixup-prob", "2"], "--mixup-prob"),
        (["--precision", "fp8"], "--precision"),
        (["--checkpoint-minutes", "-1"], "--checkpoint-minutes"),
    ],
)
def test_bad_options_are_one_clear_line_before_any_work(
    spec_file, tmp_path, capsys, option, field
):
    out = tmp_path / "run"
    assert (
        main(
            [
                "--arch",
                str(spec_file),
                "--data",
                f"imagenet:{tmp_path / 'none'}",
                "--output",
                str(out),
                *FAST,
                *option,
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert field in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_the_description_shows_a_small_model_in_thousands_of_params(data, tmp_path):
    config = RunConfig(run_dir=tmp_path, data=f"folder:{data}", workers=0, progress=False)
    trainer = FullTrainer(
        tiny_spec("conv", width=8, depth=1),
        ctx=CPU,
        config=config,
        recipe=Recipe(epochs=1, batch_size=8, warmup_epochs=0),
    )
    assert trainer.params < 10**5
    assert f"  {format_amount(trainer.params, ' params')}, drop_path" in trainer.describe()
    assert "K params" in trainer.describe() and "0.00M" not in trainer.describe()


def test_gradient_accumulation_counts_updates(data, tmp_path, one_thread):
    assert accumulation_for(32, batch_size=8, world_size=2) == 2
    with pytest.raises(Exception, match="multiple of batch x processes"):
        accumulation_for(20, batch_size=8, world_size=2)
    config = RunConfig(
        run_dir=tmp_path, data=f"folder:{data}", workers=0, accum_steps=2, progress=False
    )
    trainer = FullTrainer(
        tiny_spec("conv", width=8, depth=1),
        ctx=CPU,
        config=config,
        recipe=Recipe(epochs=1, batch_size=8, warmup_epochs=0),
    )
    assert trainer.global_batch == 16 and trainer.updates_per_epoch == 2
    trainer.fit()
    assert ckpt.load(tmp_path / "last.pt")["updates"] == 2


def test_sigterm_saves_and_the_same_run_continues(data, tmp_path, one_thread):
    config = RunConfig(run_dir=tmp_path, data=f"folder:{data}", workers=0, progress=False)
    recipe = Recipe(epochs=1, batch_size=8, warmup_epochs=0)
    spec = tiny_spec("conv", width=8, depth=1)
    trainer = FullTrainer(spec, ctx=CPU, config=config, recipe=recipe)
    update = trainer._update

    def update_then_sigterm() -> None:  # a real SIGTERM to this process after the first update
        update()
        os.kill(os.getpid(), signal.SIGTERM)

    trainer._update = update_then_sigterm
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Preempted):
        trainer.fit()
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is only there during fit
    state = ckpt.load(tmp_path / "last.pt")
    assert (state["epoch"], state["step"], state["finished"]) == (0, 1, False)
    result = FullTrainer(spec, ctx=CPU, config=config, recipe=recipe).fit()
    state = ckpt.load(tmp_path / "last.pt")
    assert state["finished"] and state["updates"] == 4 and result["epochs"] == 1


@pytest.mark.slow
def test_killed_anywhere_resumes_to_the_uninterrupted_result(data, spec_file, tmp_path):
    """SIGKILL mid-epoch, re-run the same command: same epochs, bit-identical weights."""
    args = [
        "--arch",
        str(spec_file),
        "--data",
        f"imagenet:{data}",
        *FAST,
        "--epochs",
        "2",
        "--checkpoint-minutes",
        "0",
    ]  # a checkpoint after every update
    env = subprocess_env()
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run(train_command(*args, "--output", str(straight)), env=env, check=True)
    proc = subprocess.Popen(train_command(*args, "--output", str(killed)), env=env)
    deadline = time.monotonic() + 120
    while not list(killed.glob("*/last.pt")) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not _ckpt(killed)["finished"]
    subprocess.run(train_command(*args, "--output", str(killed)), env=env, check=True)
    a, b = _ckpt(straight), _ckpt(killed)
    assert a["epoch"] == b["epoch"] == 2 and b["finished"]
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    ema_a, ema_b = ckpt.ema_weights(a), ckpt.ema_weights(b)
    assert all(torch.equal(ema_a[k], ema_b[k]) for k in ema_a) and a["best"] == b["best"]
    assert [h["epoch"] for h in b["history"]] == [1, 2]
    assert len(pd.read_csv(killed / "full_training.csv")) == 1


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(data, spec_file, tmp_path):
    out = tmp_path / "ddp"
    cmd = [
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "nas.cli.train",
        "--arch",
        str(spec_file),
        "--data",
        f"imagenet:{data}",
        "--output",
        str(out),
        *FAST,
        "--batch-size",
        "4",
    ]
    done = subprocess.run(
        [train_command()[0], *cmd],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    row = pd.read_csv(out / "full_training.csv").iloc[0]
    assert row.device == "2x cpu" and row.global_batch == 8
    state = _ckpt(out)
    assert state["run"]["world_size"] == 2 and state["updates"] == 4  # 32 images / 8
    assert len(state["rng"]) == 2  # both processes' generators saved
