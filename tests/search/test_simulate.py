"""Simulated searches on a tabulated benchmark: deterministic for a seed, refused for a table
of another space or budget."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from nas.cost import closed_form
from nas.search.config import make_config
from nas.search.feasible import FeasibleRegion
from nas.search.simulate import read_bench, simulate, write_bench
from nas.space import ConfigError, load_space
from nas.train.proxy_config import PROXY_PRESETS

from .conftest import ROOT, TINY_BUDGET, cli_env

pytest.importorskip("sklearn")


@pytest.fixture
def table(tmp_path, tiny_space):
    """Every architecture of the tiny space within budget, with made-up accuracies: more
    parameters are better, attention a little better than conv, two seeds of noise 0.01."""
    region = FeasibleRegion(load_space(tiny_space), max_flops=TINY_BUDGET)
    rng = np.random.default_rng(0)
    seen, rows = set(), []
    for _ in range(400):
        _, spec = region.draw(random.Random(int(rng.integers(1 << 30))))
        if spec.arch_id in seen:
            continue
        seen.add(spec.arch_id)
        cost = closed_form(spec)
        true = 0.5 + 0.05 * math.log(cost.params) + 0.02 * ("attn" in spec.stages[1].mixers)
        noisy = true + rng.normal(0, 0.01, 2)
        rows.append(
            {
                "arch_id": spec.arch_id,
                "flops": cost.flops,
                "params": cost.params,
                "acc_seed0": noisy[0],
                "acc_seed1": noisy[1],
                "mean": noisy.mean(),
                "seconds": 10.0,
                "spec": json.dumps(spec.to_dict()),
            }
        )
    path = tmp_path / "bench.csv"
    write_bench(
        path,
        pd.DataFrame(rows),
        header={
            "space": tiny_space.stem,
            "max_flops": region.max_flops,
            "resolution": 32,
            "fidelity": "made up for a test",
        },
    )
    return path


def config(tiny_space, tmp_path, **kw):
    return make_config(
        space=str(tiny_space),
        budget=TINY_BUDGET,
        proxy="tiny",
        device="cpu",
        out=tmp_path / "sim",
        **kw,
    )


def test_a_simulated_search_is_deterministic_for_a_seed(table, tiny_space, tmp_path):
    bench = read_bench(table)
    assert bench.noise()[1] == len(bench.frame)  # every row has two seeds
    runs = [simulate(config(tiny_space, tmp_path, trials=8, seed=s), bench) for s in (0, 0, 1)]
    cols = ["arch_id", "proxy_accuracy", "true_accuracy"]
    assert runs[0].trials[cols].equals(runs[1].trials[cols])
    assert not runs[0].trials[cols].equals(runs[2].trials[cols])
    trained = runs[0].trials[runs[0].trials["trained"].astype(bool)]
    assert len(trained[trained["duplicate_of"].isna()]) == 8
    assert (runs[0].trials["flops"].dropna() <= bench.max_flops).all()
    assert runs[0].pareto["true_accuracy"].notna().all()


@pytest.mark.parametrize("sampler", ["nsga2", "random", "qmc"])
def test_every_sampler_runs_simulated(table, tiny_space, tmp_path, sampler):
    sim = simulate(config(tiny_space, tmp_path, trials=6, sampler=sampler), read_bench(table))
    assert len(sim.pareto) >= 1


def test_callbacks_see_every_trial_once_it_ends(table, tiny_space, tmp_path):
    """What scripts/bench_sampler_overhead.py times the sampler with."""
    ended = []
    bench = read_bench(table)
    cfg = bench.search_config(tmp_path, space=str(tiny_space), trials=6, sampler="random")
    assert (cfg.max_flops, cfg.proxy.name, cfg.trials) == (bench.max_flops, "cpu", 6)
    bench.header["proxy"] = json.dumps(PROXY_PRESETS["cpu-cifar"].to_dict())  # a CIFAR table
    assert bench.search_config(tmp_path, space=str(tiny_space)).proxy == PROXY_PRESETS["cpu-cifar"]
    sim = simulate(
        cfg,
        bench,
        callbacks=[lambda study, trial: ended.append((trial.number, trial.datetime_complete))],
    )
    assert [n for n, _ in ended] == sim.trials["number"].tolist()
    assert all(done is not None for _, done in ended)


def test_a_table_of_another_budget_or_space_is_refused(table, tiny_space, tmp_path):
    bench = read_bench(table)
    other = make_config(
        space=str(tiny_space), budget="200K", proxy="tiny", device="cpu", out=tmp_path / "x"
    )
    with pytest.raises(ConfigError, match="the table measured space 'tiny' within 300,000"):
        simulate(other, bench)
    with pytest.raises(ConfigError, match="asks for space 'hybrid'"):
        simulate(
            make_config(space="hybrid", budget=TINY_BUDGET, proxy="tiny", device="cpu"), bench
        )


def test_a_file_without_the_header_is_not_a_table(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("arch_id,mean\nabc,0.5\n")
    with pytest.raises(ConfigError, match="its header lacks space, max_flops"):
        read_bench(path)


def test_nas_search_simulate_writes_the_reports(table, tiny_space, tmp_path):
    out = tmp_path / "cli"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nas.cli.search",
            "--space",
            str(tiny_space),
            "--budget",
            TINY_BUDGET,
            "--proxy",
            "tiny",
            "--trials",
            "6",
            "--simulate",
            str(table),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "simulated" in done.stdout and (out / "pareto.csv").exists()


def test_a_simulated_prescreen_trains_the_best_scored_of_each_draw(table, tiny_space, tmp_path):
    """Scores are taken for real on the table's data (its `# data:` line, which a pre-screen
    needs), with their seconds; only the training is simulated."""
    from tests.train.full_fixtures import make_image_folder

    data = "folder:" + str(make_image_folder(tmp_path / "images", train=20, val=4))
    bench = read_bench(table)
    cfg = config(tiny_space, tmp_path, trials=4, prescreen="zc:params:3", data=data)
    with pytest.raises(ConfigError, match="does not say which data it measured"):
        simulate(cfg, bench)
    bench.header["data"] = "fashion-mnist"
    with pytest.raises(ConfigError, match="--data: the table measured fashion-mnist"):
        simulate(cfg, bench)
    bench.header["data"] = data
    trials = simulate(cfg, bench).trials
    trained = trials[trials["trained"].astype(bool) & trials["duplicate_of"].isna()]
    scored = trials[trials["prescreen_for"].notna()]
    assert len(trained) == 4 and len(scored) >= 4
    assert (scored["prescreen_seconds"].dropna() > 0).all()
    for _, t in trained.iterrows():
        draw = scored[scored["prescreen_for"] == t["number"]]
        if draw["prescreen_score"].notna().any():  # else nothing eligible: it sampled its own
            best = draw.loc[draw["prescreen_score"].idxmax()]
            assert t["arch_id"] == best["arch_id"]
