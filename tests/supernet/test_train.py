"""Training a supernet: the sandwich rule over the budget's region, resumable exactly."""

import os
import signal

import pytest
import torch

from nas.cli.supernet import main
from nas.search.feasible import FeasibleRegion
from nas.space import ConfigError
from nas.supernet import checkpoint
from nas.supernet.recipe import RECIPES
from nas.supernet.run import open_for_scoring, train_command
from nas.supernet.train import Preempted
from nas.train.checkpoint import model_from_checkpoint
from tests.data.test_cifar import make_image_folder

from .conftest import make_cifar, pick

TINY = RECIPES["tiny"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return "cifar10:" + str(make_cifar(tmp_path_factory.mktemp("cifar")))


@pytest.fixture(scope="module")
def region(tiny_space):
    return FeasibleRegion(tiny_space, max_flops="200MFLOPs")


def train(region, data, out, **kw):
    return train_command(region=region, data=data, out=out, recipe=TINY, progress=False, **kw)


@pytest.fixture(scope="module")
def trained(region, data, tmp_path_factory):
    out = tmp_path_factory.mktemp("supernet")
    state = train(region, data, out)
    return out, state


def test_training_runs_every_step_and_logs_each_epoch(trained):
    _, state = trained
    assert state.done and state.step == TINY.epochs * TINY.steps_per_epoch
    assert [row["epoch"] for row in state.log] == [1, 2]
    assert all(0 <= row["largest"] <= 1 and row["loss"] > 0 for row in state.log)


def test_a_stopped_training_resumes_to_the_same_weights(trained, region, data, tmp_path):
    def sigterm_at_3(step):
        if step == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return False

    with pytest.raises(Preempted, match="step 3"):
        train(region, data, tmp_path, stop=sigterm_at_3)
    _, state, _ = checkpoint.load(tmp_path / checkpoint.CHECKPOINT_NAME)
    assert state.step == 3 and not state.done
    resumed = train(region, data, tmp_path)
    untimed = [
        [{k: v for k, v in row.items() if k != "seconds"} for row in s.log]
        for s in (resumed, trained[1])
    ]
    assert untimed[0] == untimed[1]
    want, _, _ = checkpoint.load(trained[0] / checkpoint.CHECKPOINT_NAME)
    got, _, _ = checkpoint.load(tmp_path / checkpoint.CHECKPOINT_NAME)
    for (name, a), b in zip(want.state_dict().items(), got.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_other_settings_do_not_resume_into_a_checkpoint(trained, region, data):
    out, _ = trained
    with pytest.raises(ConfigError, match=r"lr 0.001 -> 0.002.*another --out"):
        train_command(
            region=region, data=data, out=out, recipe=TINY.replace(lr=2e-3), progress=False
        )
    other = FeasibleRegion(region.space, max_flops="100MFLOPs")
    with pytest.raises(ConfigError, match="max_flops"):
        train(other, data, out)


def test_scoring_and_extracting_agree(trained, tiny_space, data, tmp_path, capsys):
    out, _ = trained
    spec = pick(tiny_space, {"stage2.seg1.mixer": "attn", "stem.type": "conv4"})
    score = open_for_scoring(out)
    acc = score(spec)
    assert 0 <= acc <= 1 and acc == score(spec)
    spec_file = tmp_path / "arch.yaml"
    from nas.space import save_spec

    save_spec(spec, spec_file)
    assert main(["extract", str(out), str(spec_file), "--out", str(tmp_path / "a.pt")]) == 0
    model = model_from_checkpoint(tmp_path / "a.pt")
    supernet, _, _ = checkpoint.load(out / checkpoint.CHECKPOINT_NAME)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), supernet.eval()(x, spec))
    assert main(["score", str(out), str(spec_file)]) == 0
    assert spec.arch_id in capsys.readouterr().out


def test_scoring_refuses_other_data(trained, tmp_path):
    other = "cifar10:" + str(make_image_folder(tmp_path))  # other files: other data
    with pytest.raises(ConfigError, match="would not be held out"):
        open_for_scoring(trained[0], data=other)


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["score", str(tmp_path), "x.yaml"]) == 2
    assert "no supernet checkpoint here" in capsys.readouterr().err
    assert (
        main(["train", "--space", "hybrid", "--budget", "1MFLOPs", "--data", "x", "--out", "o"])
        == 2
    )


def test_the_supernet_fidelity_scores_like_the_supernet(
    trained, tiny_space, data, tmp_path, monkeypatch
):
    import shutil

    from nas.evaluate.fidelity import Fidelity
    from nas.evaluate.runs import load_fidelity_data, train_once
    from nas.train.proxy_config import get_proxy

    out, _ = trained
    proxy = get_proxy(f"supernet:{out}", device=torch.device("cpu"))
    assert proxy.supernet == checkpoint.file_hash(out / checkpoint.CHECKPOINT_NAME)
    fidelity = Fidelity(proxy, data=data)
    spec = pick(tiny_space, {"stage2.seg1.mixer": "mlp"})
    result = train_once(spec, fidelity=fidelity, seed=0, data=load_fidelity_data(fidelity))
    assert result.accuracy == open_for_scoring(out)(spec)
    assert "supernet" in fidelity.describe()
    # a moved copy is the same fidelity; a bare folder is one clear error
    moved = shutil.copytree(out, tmp_path / "moved")
    assert Fidelity(get_proxy(f"supernet:{moved}", device=None), data=data).fidelity_id == (
        fidelity.fidelity_id
    )
    with pytest.raises(ConfigError, match="not a supernet"):
        get_proxy(f"supernet:{tmp_path}", device=None)
    # other data seeds would score on images the supernet trained on
    other = Fidelity(proxy, data=data, data_seed=1)
    with pytest.raises(ConfigError, match="would not be held out"):
        train_once(spec, fidelity=other, seed=0, data=load_fidelity_data(other))
    # a sidecar without its checkpoint (a published benchmark) names what is missing
    bare = tmp_path / "sidecar-only"
    bare.mkdir()
    shutil.copyfile(out / "supernet.json", bare / "supernet.json")
    alone = Fidelity(get_proxy(f"supernet:{bare}", device=None), data=data)
    monkeypatch.setattr("nas.supernet.score._OPEN", {})  # as in a new process
    with pytest.raises(ConfigError, match="checkpoint is missing"):
        train_once(spec, fidelity=alone, seed=0, data=load_fidelity_data(alone))


@pytest.mark.slow
def test_a_search_ranks_by_the_supernet(trained, data, tmp_path):
    import yaml

    from nas.report import read_trials
    from nas.search import run_search
    from nas.space import parse_space

    from .conftest import TINY as TINY_SPACE

    space_file = tmp_path / "tiny.yaml"
    space_file.write_text(yaml.safe_dump(TINY_SPACE))
    run_search(
        space=str(space_file),
        budget="200MFLOPs",
        proxy=f"supernet:{trained[0]}",
        data=data,
        trials=4,
        out=tmp_path / "search",
        device="cpu",
        progress=False,
    )
    trials = read_trials(tmp_path / "search" / "trials.csv")
    done = trials[trials["state"] == "COMPLETE"]
    assert len(done) == 4 and (done["seeds"] == 1).all()  # deterministic: no repeats
    score = open_for_scoring(trained[0])
    space = parse_space(TINY_SPACE, name="tiny")
    for _, row in done.iterrows():
        params = {
            k.removeprefix("param."): plain(v) for k, v in row.items() if k.startswith("param.")
        }
        spec = pick(space, params)
        assert spec.arch_id == row["arch_id"]
        assert row["proxy_accuracy"] == pytest.approx(score(spec), abs=1e-6)
    # the summary says what ranked the candidates and why their noise is not measured
    summary = (tmp_path / "search" / "summary.md").read_text()
    assert "a trained supernet: each candidate's subnet scored with its inherited weights" in (
        summary
    )
    assert "epochs," not in summary.splitlines()[2]
    assert "a supernet's score does not depend on the seed" in summary


def plain(value):
    """A trials.csv cell as the space's choice (pandas reads whole numbers as floats)."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return {"True": True, "False": False}.get(value, value)
