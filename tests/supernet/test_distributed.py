"""nas-supernet train under torchrun: two processes on CPU (gloo) share each step's batch."""

import subprocess
import sys

import pytest
import yaml

from nas.supernet import checkpoint

from .conftest import TINY, make_cifar


@pytest.mark.slow
def test_torchrun_two_processes_train_one_supernet(tmp_path):
    space = tmp_path / "tiny.yaml"
    space.write_text(yaml.safe_dump(TINY))
    data = make_cifar(tmp_path / "cifar")
    out = tmp_path / "sn"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "nas.cli.supernet",
        "train",
        "--space",
        str(space),
        "--budget",
        "200MFLOPs",
        "--data",
        f"cifar10:{data}",
        "--out",
        str(out),
        "--recipe",
        "tiny",
        "--device",
        "cpu",
        "--no-progress",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    _, state, _ = checkpoint.load(out / checkpoint.CHECKPOINT_NAME)
    assert state.done and state.step == 8 and len(state.log) == 2
    assert done.stdout.count("supernet trained") == 1  # the main process reports
