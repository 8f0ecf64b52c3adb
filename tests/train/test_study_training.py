"""nas-train --from results/<study> --top K on a study folder made by hand to the contract."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import pairwise

import pandas as pd
import pytest
import torch

from nas.cli.train import main
from nas.space import ConfigError
from nas.train.study import launch_per_gpu, load_study, pick_top

from .full_fixtures import FAST, make_image_folder, make_study, subprocess_env


def _front(flops: list[float], acc: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"arch_id": [f"a{i}" for i in range(len(flops))], "flops": flops, "proxy_accuracy": acc}
    )


def test_picks_cover_the_front_by_log_flop_bands():
    front = _front([1e6, 2e6, 4e6, 8e6, 16e6], [0.50, 0.60, 0.65, 0.70, 0.72])
    # bands [1, 4) and [4, 16] MFLOPs: the best of each
    assert list(pick_top(front, 2).arch_id) == ["a1", "a4"]
    # edges 1, 2.52, 6.35, 16 MFLOPs: {a0, a1}, {a2}, {a3, a4}
    assert list(pick_top(front, 3).arch_id) == ["a1", "a2", "a4"]
    assert len(pick_top(front, 9)) == 5


def test_empty_bands_are_filled_with_the_best_of_the_rest():
    front = _front([1.0e6, 1.1e6, 1.2e6, 100e6], [0.50, 0.55, 0.60, 0.90])
    assert list(pick_top(front, 3).arch_id) == ["a1", "a2", "a3"]
    with pytest.raises(ConfigError, match="--top"):
        pick_top(front, 0)


def test_a_broken_study_folder_says_what_is_missing(tmp_path):
    with pytest.raises(ConfigError, match="study folder not found"):
        load_study(tmp_path / "nope")
    with pytest.raises(ConfigError, match=r"no pareto\.csv"):
        load_study(tmp_path)
    pd.DataFrame({"arch_id": ["x"], "flops": [1]}).to_csv(tmp_path / "pareto.csv", index=False)
    with pytest.raises(ConfigError, match=r"missing column.*proxy_accuracy"):
        load_study(tmp_path)


@pytest.fixture
def study(tmp_path):
    data = make_image_folder(tmp_path / "imagenet")
    return make_study(tmp_path / "results" / "tiny-1MFLOPs", f"imagenet:{data}")


def test_top2_trains_both_picks_and_reports_fidelity(study, capsys):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["--from", str(study), "--top", "2", *FAST]) == 0
        rows = pd.read_csv(study / "full_training.csv", dtype={"arch_id": str})
        picks = pick_top(load_study(study).pareto, 2)
        assert sorted(rows.arch_id) == sorted(picks.arch_id)
        assert all((study / "full" / a / "last.pt").is_file() for a in rows.arch_id)
        assert (rows.resolution == 32).all() and (rows.epochs == 1).all()
        measures = pd.read_csv(study / "fidelity.csv").set_index("measure")
        assert measures.loc["kendall_tau", "n"] == 2
        assert abs(measures.loc["kendall_tau", "value"]) in (0.0, 1.0)  # n=2: agree or not
        assert "Kendall τ" in (study / "fidelity.md").read_text()
        # the same command again: both finished, nothing retrained, no new rows
        assert main(["--from", str(study), "--top", "2", *FAST]) == 0
        assert len(pd.read_csv(study / "full_training.csv")) == 2
        # a third architecture by itself, then the report covers all three
        third = set(load_study(study).pareto.arch_id) - set(rows.arch_id)
        assert main(["--from", str(study), "--pick", third.pop(), *FAST]) == 0
        assert len(pd.read_csv(study / "full_training.csv")) == 3
        assert pd.read_csv(study / "fidelity.csv").n.iloc[0] == 3
    finally:
        torch.set_num_threads(before)


def test_study_without_data_or_unknown_pick(study, capsys):
    (study / "run.yaml").write_text("resolution: 32\n")
    assert main(["--from", str(study), *FAST]) == 2
    assert "names no data; give --data" in capsys.readouterr().err
    assert (
        main(["--from", str(study), "--pick", "ffffffffff", "--data", "fashion-mnist", *FAST]) == 2
    )
    assert "ffffffffff.yaml" in capsys.readouterr().err


def test_top_beyond_the_front_says_how_many_will_be_trained(study, monkeypatch, capsys):
    trained = []

    def train_picks(_study, arch_ids, **_):  # stands in for the training: none failed
        trained.extend(arch_ids)
        return []

    monkeypatch.setattr("nas.train.study.train_picks", train_picks)
    assert main(["--from", str(study), "--top", "5", *FAST]) == 0
    err = capsys.readouterr().err
    assert (
        "nas-train: warning: --top 5, but the study's Pareto front has 3 member(s): "
        "training 3" in err
    )
    assert len(trained) == 3
    assert main(["--from", str(study), "--top", "3", *FAST]) == 0
    assert "warning" not in capsys.readouterr().err


def _spy_on_children(monkeypatch, *, child: list[str] | None = None) -> dict[str, str]:
    """pick -> the CUDA_VISIBLE_DEVICES its child was started with; `child` replaces the
    child's command (it gets the pick as its last argument)."""
    real_popen, seen = subprocess.Popen, {}

    def popen(cmd, *, env, **kw):
        seen[cmd[-1]] = env.get("CUDA_VISIBLE_DEVICES")
        return real_popen(cmd if child is None else [*child, cmd[-1]], env=env, **kw)

    monkeypatch.setattr("nas.train.study.subprocess.Popen", popen)
    return seen


# a stand-in child: records the GPU it sees and when it ran, then exits 0
FAKE_CHILD = """\
import json, os, sys, time
start = time.time()
time.sleep(0.6)
with open(os.path.join(sys.argv[1], sys.argv[2] + ".json"), "w") as f:
    json.dump([os.environ.get("CUDA_VISIBLE_DEVICES"), start, time.time()], f)
"""


def test_one_pick_per_gpu_queue_pins_each_child_to_a_free_gpu(tmp_path, monkeypatch):
    """Five picks on two 'GPUs': each child sees only its GPU, and no GPU runs two at once."""
    records = tmp_path / "records"
    records.mkdir()
    _spy_on_children(monkeypatch, child=[sys.executable, "-c", FAKE_CHILD, str(records)])
    picks = [f"pick{i}" for i in range(5)]
    assert launch_per_gpu(picks, argv=[], gpus=2, log_dir_for=lambda a: tmp_path / a) == []
    runs = {p: json.loads((records / f"{p}.json").read_text()) for p in picks}
    assert {gpu for gpu, _, _ in runs.values()} == {"0", "1"}
    assert runs["pick0"][0] == "0" and runs["pick1"][0] == "1"  # both GPUs start at once
    for gpu in ("0", "1"):
        spans = sorted((start, end) for g, start, end in runs.values() if g == gpu)
        assert all(end <= next_start for (_, end), (next_start, _) in pairwise(spans))
    assert all((tmp_path / p / "train.log").is_file() for p in picks)


@pytest.mark.slow
def test_one_pick_per_gpu_queue(study, monkeypatch):
    """Three picks on two 'GPUs': children pinned by CUDA_VISIBLE_DEVICES, queued, each
    logging to its run folder, rows appended under the lock. (CPU children stand in here.)"""
    for key, value in subprocess_env().items():
        monkeypatch.setenv(key, value)
    gpu_of = _spy_on_children(monkeypatch)
    arch_ids = list(load_study(study).pareto.arch_id)
    failed = launch_per_gpu(
        arch_ids,
        argv=["--from", str(study), *FAST],
        gpus=2,
        log_dir_for=lambda a: study / "full" / a,
    )
    assert failed == []
    assert [gpu_of[a] for a in arch_ids[:2]] == ["0", "1"] and gpu_of[arch_ids[2]] in ("0", "1")
    rows = pd.read_csv(study / "full_training.csv", dtype={"arch_id": str})
    assert sorted(rows.arch_id) == sorted(arch_ids)
    assert all((study / "full" / a / "train.log").is_file() for a in arch_ids)


def test_the_studys_class_subset_is_trained(study):
    """run.yaml's classes (nas-search --classes) carry into full training: a 2-class head,
    and a checkpoint made on them is not continued on other classes."""
    import yaml

    run = yaml.safe_load((study / "run.yaml").read_text())
    (study / "run.yaml").write_text(yaml.safe_dump({**run, "classes": ["n01443537", "n01491361"]}))
    arch_id = pick_top(load_study(study).pareto, 1).arch_id[0]
    assert main(["--from", str(study), "--pick", arch_id, *FAST]) == 0
    result = json.loads((study / "full" / arch_id / "result.json").read_text())
    assert result["num_classes"] == 2
    config = json.loads((study / "full" / arch_id / "config.json").read_text())
    assert config["run"]["classes"] == ["n01443537", "n01491361"]
    from nas.train.distributed import DistContext
    from nas.train.full import FullTrainer, RunConfig
    from nas.train.recipe import Recipe

    other = RunConfig(
        run_dir=study / "full" / arch_id,
        data=run["data"],
        workers=0,
        classes=("n01440764", "n01443537"),
        resume="required",
        progress=False,
    )
    with pytest.raises(
        ConfigError,
        match=r"cannot continue the checkpoint with other "
        r"settings \(data .* classes=n01443537,n01491361 -> "
        r".* classes=n01440764,n01443537\)",
    ):
        FullTrainer(
            load_study(study).spec(arch_id),
            config=other,
            recipe=Recipe(**config["recipe"]),
            ctx=DistContext(0, 1, 0, torch.device("cpu")),
        ).fit()
