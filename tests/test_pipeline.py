"""The whole pipeline on tiny inputs: nas-search on a space, then nas-train --from the study
on an ImageNet-layout folder, then the proxy-fidelity report in the study's summary."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from nas.cli.train import main as train_main
from nas.search import run_search
from tests.search.conftest import TINY_BUDGET, TINY_PROXY, TINY_SPACE, needs_fmnist
from tests.train.full_fixtures import FAST, make_image_folder

pytestmark = [needs_fmnist, pytest.mark.slow]


def test_search_then_train_the_top_picks_then_fidelity(tmp_path):
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_SPACE)
    study = tmp_path / "results" / "tiny-300K"
    outcome = run_search(
        space=str(space),
        budget=TINY_BUDGET,
        proxy=TINY_PROXY,
        trials=6,  # a front of two needs a few candidates (repeats go where the front is in doubt)
        out=study,
        device="cpu",
        progress=False,
        seed=0,
    )
    assert len(outcome.pareto) >= 2, "the test needs a front of two to rank"
    data = make_image_folder(tmp_path / "imagenet")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert (
            train_main(["--from", str(study), "--top", "2", "--data", f"imagenet:{data}", *FAST])
            == 0
        )
    finally:
        torch.set_num_threads(before)
    full = pd.read_csv(study / "full_training.csv", dtype={"arch_id": str})
    assert len(full) == 2 and set(full.arch_id) <= set(outcome.pareto.arch_id)
    measures = pd.read_csv(study / "fidelity.csv").set_index("measure")
    assert {"kendall_tau", "spearman_rho"} <= set(measures.index)
    assert "Proxy fidelity" in (study / "summary.md").read_text()
