"""nas-export: a standalone file per architecture that builds the same network, on the same
weights, with torch and timm only (checked in a process where `nas` cannot be imported)."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys

import pytest
import torch

from nas.blocks import get_block
from nas.cli.export import main
from nas.cost import closed_form
from nas.models import build_model
from nas.models.presets import convmixer
from nas.space import ArchSpec, StemSpec, save_spec
from nas.train import checkpoint as ckpt
from tests.helpers import tiny_spec


def _families() -> dict[str, ArchSpec]:
    """One network per mixer family, with the stems and sharing they come with."""
    return {
        "conv": tiny_spec("conv").replace(stem=StemSpec("conv4", 4, 16)),
        "attn": tiny_spec("attn"),
        "mlp": tiny_spec("mlp", depth=3, shared=True),
        "convmixer": convmixer(32, 2, kernel_size=5, patch_size=4).replace(
            resolution=32, num_classes=10
        ),
        "mbconv": tiny_spec("mbconv"),
        "relattn": tiny_spec("relattn"),
    }


def _trained_checkpoint(spec: ArchSpec, path, seed: int) -> torch.nn.Module:
    """A nas-train-format checkpoint of `spec` with random (not initial) weights."""
    torch.manual_seed(seed)
    model = build_model(spec)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
    state = {
        "format": ckpt.FORMAT_VERSION,
        "spec": spec.to_dict(),
        **ckpt.weights_state(model.state_dict(), None, best="model"),
    }
    ckpt.save_atomic(state, path)
    return model.eval()


RUN_WITHOUT_NAS = """
import importlib, os, sys, torch
torch.set_num_threads(int(os.environ["TORCH_THREADS"]))  # the test's: sums in the same order
sys.path.insert(0, sys.argv[1])
sys.modules["nas"] = None  # the venv has nas installed: make it unimportable here
try:
    import nas
    raise SystemExit("nas is importable")
except ImportError:
    pass
out = {}
for name in sys.argv[2:]:
    module = importlib.import_module(name)  # as a user imports the file
    net = module.build_model(pretrained=True).eval()
    with torch.no_grad():
        out[name] = net(torch.load(sys.argv[1] + f"/{name}.x.pt"))
torch.save(out, sys.argv[1] + "/out.pt")
assert not [m for m in sys.modules if m.startswith("nas.")]
"""


def test_exported_modules_match_build_model_without_nas(tmp_path, capsys):
    expected, names = {}, []
    for i, (family, spec) in enumerate(_families().items()):
        model = _trained_checkpoint(spec, tmp_path / f"{family}.pt", seed=i)
        name = f"net_{family}"
        assert (
            main(
                [
                    "--checkpoint",
                    str(tmp_path / f"{family}.pt"),
                    "--out",
                    str(tmp_path),
                    "--name",
                    name,
                ]
            )
            == 0
        )
        x = torch.randn(2, 3, spec.resolution, spec.resolution)
        torch.save(x, tmp_path / f"{name}.x.pt")
        with torch.no_grad():
            expected[name] = model(x)
        names.append(name)
        text = (tmp_path / f"{name}.py").read_text()
        assert not re.search(r"^\s*(import nas|from nas[ .])", text, re.MULTILINE)
        header = text.split('"""')[1]
        cost = closed_form(spec)
        for fact in (spec.arch_id, f"{cost.flops:,}", f"{cost.params:,}", "timm     1."):
            assert fact in header, fact
        block = get_block(spec.stages[0].mixers[0])
        assert inspect.getsource(block) in text  # generated from nas's source, verbatim
    assert len(capsys.readouterr().out.strip().splitlines()) == len(names)
    done = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_NAS, str(tmp_path), *names],
        cwd=tmp_path,
        env={**os.environ, "TORCH_THREADS": str(torch.get_num_threads())},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = torch.load(tmp_path / "out.pt", weights_only=True)
    for name in names:
        assert torch.equal(got[name], expected[name]), name


def test_presets_and_a_studys_pareto_members_export_without_weights(tmp_path, capsys):
    specs = [tiny_spec("conv", width=8, depth=1), tiny_spec("attn", width=16)]
    for spec in specs:
        save_spec(spec, tmp_path / "study" / "archs" / f"{spec.arch_id}.yaml")
    out = tmp_path / "out"
    assert main(["spach_xxs_patch16_224_conv", "--out", str(out)]) == 0
    assert main(["--from", str(tmp_path / "study"), "--out", str(out)]) == 0
    want = {"spach_xxs_patch16_224_conv.py", *(f"arch_{s.arch_id}.py" for s in specs)}
    assert {p.name for p in out.iterdir()} == want  # no weights without a checkpoint
    assert len(capsys.readouterr().out.splitlines()) == 3


@pytest.mark.parametrize(
    "args, words",
    [
        ([], "give architectures"),
        (["conv.yaml", "--checkpoint", "x.pt"], "--checkpoint"),
        (["--checkpoint", "missing.pt"], "missing.pt: checkpoint not found"),
        (
            ["spach_xxs_patch16_224_conv", "--name", "my-net"],
            "nas-export: error: --name: expected a valid Python identifier",
        ),
        (["spach_xxs_patch16_224_conv", "--name", "class"], "got 'class'"),  # a keyword
    ],
)
def test_bad_calls_are_one_line(tmp_path, capsys, args, words):
    assert main([*args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_file_that_is_no_checkpoint_says_so_in_one_line(tmp_path, capsys):
    """Not `IndexError` or `OSError: [Errno 22]`: what the file is not, and what it seems."""
    whole = tmp_path / "whole.pt"
    _trained_checkpoint(tiny_spec("conv", width=8, depth=1), whole, seed=0)
    data = whole.read_bytes()
    files = {
        "notes.txt": (b"not weights\n", "not a file torch.save wrote"),
        "cut.pt": (data[: len(data) // 2], "a torch file cut short or damaged"),
        "cut_at_end.pt": (data[:-10], "a torch file cut short or damaged"),
        "empty.pt": (b"", "the file is empty"),
    }
    for name, (content, what) in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        assert main(["--checkpoint", str(path), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert err == f"nas-export: error: {path}: not a readable nas checkpoint: {what}\n"
    assert not (tmp_path / "out").exists()
