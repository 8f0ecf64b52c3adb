"""Resolving a search's options: defaults, one-line errors, and what a study is bound to."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas.search.config import (
    SearchConfig,
    check_resume,
    make_config,
    parse_duration,
    parse_pruner,
)
from nas.space import ConfigError
from nas.train.proxy_config import PROXY_PRESETS, get_proxy, load_proxy


def make(**kw) -> SearchConfig:
    return SearchConfig.create(**{"space": "hybrid", "budget": "4GFLOPs", **kw})


def test_defaults_follow_the_readme():
    cfg = make()
    assert cfg.study_name == "hybrid-4GFLOPs" and cfg.out == Path("results/hybrid-4GFLOPs")
    assert cfg.storage == str(Path("results/hybrid-4GFLOPs/study.journal"))
    assert cfg.max_flops == 4_000_000_000 and cfg.resolution == 224
    assert cfg.objectives == ("accuracy", "flops") and cfg.directions == ["maximize", "minimize"]
    assert cfg.sampler == "gp" and cfg.pruner == "median" and cfg.proxy.name == "cpu"
    assert cfg.trials == 20 and cfg.timeout == 12 * 60  # the CPU default fits ~15 minutes
    gpu = make(proxy=PROXY_PRESETS["gpu"])
    assert gpu.trials == 100 and gpu.timeout is None


def test_a_long_search_defaults_to_tpe_and_an_asked_sampler_stays():
    """gp was measured best up to 200 trials; its own time per trial grows with the trials, so
    a search of thousands (a supernet's, seconds a trial) defaults to tpe."""
    assert make(trials=200).sampler == "gp"
    assert make(trials=201).sampler == "tpe"
    assert make(trials=2000, sampler="gp").sampler == "gp"
    assert make(trials=20, sampler="tpe").sampler == "tpe"


def test_the_cpu_default_runs_two_workers_where_there_are_two_cores(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert make().workers == 2  # two single-threaded trainings beat one on two threads
    assert make(proxy=PROXY_PRESETS["gpu"]).workers == 1
    assert make(proxy=PROXY_PRESETS["tiny"]).workers == 1
    assert make(workers=3).workers == 3  # asked for
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert make().workers == 1  # never more processes than cores


def test_a_space_path_names_the_study_by_its_file():
    cfg = make(space="/somewhere/my_space.yaml", budget="600M")
    assert cfg.study_name == "my_space-600M"


@pytest.mark.parametrize(
    "kw, words",
    [
        ({"budget": "4 apples"}, "budget: cannot read"),
        ({"objectives": "flops,params"}, "--objectives: the objectives must include accuracy"),
        ({"objectives": "accuracy,speed"}, "--objectives: expected one of accuracy, flops"),
        ({"sampler": "cmaes"}, "--sampler: expected one of tpe, nsga2"),
        ({"sampler": "nsga2", "objectives": "accuracy"}, "multi-objective sampler"),
        ({"pruner": "hyperband"}, "does not support multi-objective studies"),
        ({"pruner": "percentile:150"}, "`0 < P < 100` must hold, but got P=150"),
        ({"trials": 0}, "--trials: expected an integer >= 1"),
        ({"timeout": "soon"}, "--timeout: cannot read 'soon'"),
        ({"max_params": "lots"}, "--max-params: cannot read"),
        ({"resolution": 0}, "--resolution: expected an integer of at least 8 pixels, got 0"),
        ({"resolution": -224}, "--resolution: expected an integer of at least 8 pixels, got -224"),
        ({"resolution": 4}, "--resolution: expected an integer of at least 8 pixels, got 4"),
    ],
)
def test_bad_options_are_one_line_errors(kw, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        make(**kw)


def test_durations_and_pruners_parse():
    assert parse_duration("15m") == 900 and parse_duration("1.5h") == 5400
    assert parse_duration("90") == 90 and parse_duration(30) == 30
    assert parse_duration("none") is None and parse_duration(0) is None
    assert parse_pruner("percentile:25") == ("percentile", 25.0)
    assert make(pruner="hyperband", objectives="accuracy").pruner == "hyperband"


def test_a_study_refuses_to_resume_under_another_budget_or_proxy():
    stored = make().fingerprint()
    check_resume(stored, make(trials=50, sampler="random", timeout="1h"))  # may change
    with pytest.raises(
        ConfigError, match="max_flops: study has 4000000000, this run asks for 2000000000"
    ):
        check_resume(stored, make(budget="2GFLOPs", study_name="hybrid-4GFLOPs"))
    with pytest.raises(ConfigError, match="proxy: study has"):
        check_resume(stored, make(proxy=PROXY_PRESETS["tiny"]))


def test_a_study_of_the_earlier_cpu_proxy_resumes_under_its_new_name():
    """Studies made before the calibration stored the old settings under the name `cpu`."""
    old = PROXY_PRESETS["cpu-v1"].replace(name="cpu")
    stored = make(proxy=old).fingerprint()
    with pytest.raises(ConfigError, match="resumes with --proxy cpu-v1"):
        check_resume(stored, make(proxy=PROXY_PRESETS["cpu"]))
    check_resume(stored, make(proxy=PROXY_PRESETS["cpu-v1"]))
    # a CIFAR study made when `auto` meant `cpu` there is pointed back to `cpu`
    stored = make(proxy=PROXY_PRESETS["cpu"]).fingerprint()
    with pytest.raises(ConfigError, match="resumes with --proxy cpu\\)"):
        check_resume(stored, make(proxy=PROXY_PRESETS["cpu-cifar"]))
    stored = make(proxy=PROXY_PRESETS["cpu"].replace(epochs=9)).fingerprint()
    with pytest.raises(ConfigError) as refused:  # settings of no preset: no hint
        check_resume(stored, make(proxy=PROXY_PRESETS["cpu"]))
    assert "resumes with" not in str(refused.value)


def test_configuration_round_trips_through_a_dict():
    cfg = make(max_params="25M", objectives="accuracy,flops,params")
    assert SearchConfig.from_dict(cfg.to_dict()) == cfg


def test_proxy_presets_and_files(tmp_path):
    import torch

    assert get_proxy(None, device=torch.device("cpu")).name == "cpu"
    assert get_proxy("auto", device=torch.device("cuda")).name == "gpu"
    path = tmp_path / "mine.yaml"
    path.write_text("epochs: 5\nlr: 1.0e-3\n")
    mine = load_proxy(path)
    assert (mine.name, mine.epochs, mine.lr) == ("mine", 5, 1e-3)
    # unset fields come from a fixed base, not from the default that calibrations move
    assert mine.train_images == PROXY_PRESETS["cpu-v1"].train_images
    assert mine.resolution == PROXY_PRESETS["cpu-v1"].resolution
    path.write_text("epochs: 5\nlearning_rate: 0.1\n")
    with pytest.raises(ConfigError, match=r"mine\.yaml: learning_rate: unknown field"):
        load_proxy(path)
    path.write_text("lr: 2e-3\n")  # YAML reads this as a string
    with pytest.raises(ConfigError, match=r"proxy.lr: expected a number >= 0.*write 2.0e-3"):
        load_proxy(path)
    with pytest.raises(ConfigError, match="--proxy: unknown proxy preset 'fast'"):
        get_proxy("fast", device=torch.device("cpu"))


def test_auto_picks_the_preset_calibrated_for_the_data():
    """CIFAR's own CPU preset for CIFAR data (the README's table); `cpu` for the data it was
    calibrated on and for kinds with none of their own; a named preset whatever the data."""
    import torch

    cpu = torch.device("cpu")
    assert get_proxy("auto", device=cpu, data="cifar10:/d").name == "cpu-cifar"
    assert get_proxy(None, device=cpu, data="cifar100:/d").name == "cpu-cifar"
    assert get_proxy("auto", device=cpu, data="fashion-mnist").name == "cpu"
    assert get_proxy("auto", device=cpu, data="folder:/d").name == "cpu"
    # on any device: `gpu` asks for more training-split images than CIFAR has
    assert get_proxy("auto", device=torch.device("cuda"), data="cifar10:/d").name == "cpu-cifar"
    assert get_proxy("auto", device=torch.device("cuda"), data="fashion-mnist").name == "gpu"
    assert get_proxy("cpu", device=cpu, data="cifar10:/d").name == "cpu"
    search = make_config(space="hybrid", budget="4GFLOPs", data="cifar10:/d", device="cpu")
    assert search.proxy.name == "cpu-cifar" and search.timeout == 12 * 60
    assert make(data="cifar10:/d").proxy.name == "cpu-cifar"  # no proxy given: as auto
    # `reference`: the data's reference, what summary.md tells a user to retrain picks under
    assert get_proxy("reference", device=cpu, data="cifar10:/d").name == "reference-cifar"
    assert get_proxy("reference", device=cpu, data="fashion-mnist").name == "reference-cpu"
    gpu = torch.device("cuda")
    assert get_proxy("reference", device=gpu, data="fashion-mnist").name == "reference-gpu"


def test_every_registered_sampler_and_pruner_is_accepted_and_builds():
    """A new sampler or pruner is one entry in nas/search/samplers.py: the options follow."""
    from nas.search.samplers import (
        MULTI_OBJECTIVE_PRUNERS,
        PRUNER_FACTORIES,
        SAMPLER_FACTORIES,
        make_pruner,
        make_sampler,
    )

    for name in SAMPLER_FACTORIES:
        objectives = "accuracy,flops" if name.startswith("nsga") else "accuracy"
        assert make(sampler=name, objectives=objectives).sampler == name
        assert make_sampler(name, seed=0, trials=20) is not None
    for name in PRUNER_FACTORIES:
        option = "percentile:25" if name == "percentile" else name
        assert make(pruner=option, objectives="accuracy").pruner == name
        assert make_pruner(name, percentile=25.0) is not None
        if name not in MULTI_OBJECTIVE_PRUNERS:
            with pytest.raises(ConfigError, match="does not support multi-objective"):
                make(pruner=option)


def test_the_option_parser_needs_no_optuna():
    """--help and the dry run's count start fast: the registries import Optuna lazily."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from nas.cli.search import parser\n"
        "assert 'successive-halving' in parser().format_help()\n"
        "assert 'optuna' not in sys.modules, 'optuna was imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_the_class_subset_is_part_of_the_study(tmp_path):
    listed = tmp_path / "in100.txt"
    listed.write_text("n01\nn02\n")
    by_count, by_file = make(classes="100"), make(classes=str(listed))
    assert by_count.classes == 100 and by_file.classes == ("n01", "n02")
    assert by_file.fingerprint()["classes"] == ["n01", "n02"]
    for stored, now in (
        (make(), by_count),
        (by_count, make()),
        (by_count, make(classes=50)),
        (by_file, make(classes=("n01", "n03"))),
    ):
        with pytest.raises(ConfigError, match="classes: study has"):
            check_resume(stored.fingerprint(), now)
    check_resume(by_file.fingerprint(), make(classes=("n01", "n02")))
    # a study made before classes existed (no key) resumes without them
    check_resume({k: v for k, v in make().fingerprint().items() if k != "classes"}, make())
    # workers get the configuration as JSON: the names come back as a tuple
    import json

    assert SearchConfig.from_dict(json.loads(json.dumps(by_file.to_dict()))) == by_file


def test_data_options_are_checked_and_not_part_of_the_study():
    cfg = make(data_workers=3, skip_bad_images=True)
    assert (cfg.data_workers, cfg.skip_bad_images) == (3, True)
    check_resume(make().fingerprint(), cfg)
    with pytest.raises(ConfigError, match="--data-workers: expected an integer >= 1, got 0"):
        make(data_workers=0)
