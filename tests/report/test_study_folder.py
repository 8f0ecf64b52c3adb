"""StudyFolder: the one owner of a results folder's file names; what the writer writes is what
its readers read, and the modules below nas.report that read a study folder use its names."""

from __future__ import annotations

import pandas as pd
import pytest

from nas.report import StudyFolder, write_run_yaml, write_search_reports
from nas.report.tables import order_columns
from tests.helpers import tiny_spec


@pytest.fixture
def written(tmp_path):
    """A search's folder as the writer leaves it: two trials, one on the front."""
    specs = [tiny_spec("conv", width=8, depth=1), tiny_spec("conv", width=16, depth=1)]
    trials = order_columns(
        pd.DataFrame(
            [
                {
                    "number": n,
                    "state": "COMPLETE",
                    "arch_id": s.arch_id,
                    "flops": 1000 * (n + 1),
                    "params": 10 * (n + 1),
                    "proxy_accuracy": 0.5 + n / 10,
                    "summary": s.summary(),
                }
                for n, s in enumerate(specs)
            ]
        )
    )
    write_search_reports(
        tmp_path,
        trials=trials,
        pareto=trials.iloc[[1]],
        archs={specs[1].arch_id: (specs[1], "tiny-trial1")},
        max_flops=10_000,
        max_params=None,
        objectives=("accuracy", "flops"),
        study_name="Tiny-10K",
        resolution=32,
    )
    write_run_yaml(tmp_path, {"data": "fashion-mnist", "config": {"study_name": "Tiny-10K"}})
    return StudyFolder(tmp_path), specs


def test_every_file_the_writer_writes_is_a_path_of_the_folder(written):
    folder, specs = written
    wrote = {p for p in folder.root.rglob("*") if p.is_file()}
    assert wrote == {
        folder.trials_csv,
        folder.pareto_csv,
        folder.pareto_png,
        folder.summary_md,
        folder.run_yaml,
        folder.arch_path(specs[1].arch_id),
    }


def test_the_readers_read_what_the_writer_wrote(written):
    folder, specs = written
    trials, pareto = folder.trials(), folder.pareto()
    assert trials["arch_id"].tolist() == [s.arch_id for s in specs]
    assert str(trials["flops"].dtype) == "Int64" and pareto["number"].tolist() == [1]
    assert folder.archs() == {specs[1].arch_id: specs[1]}
    assert folder.arch(specs[1].arch_id) == specs[1]
    assert folder.run()["data"] == "fashion-mnist"
    assert f"({StudyFolder.ARCHS}/{specs[1].arch_id}.yaml)" in folder.summary_md.read_text()


def test_a_folder_without_files_reads_as_empty(tmp_path):
    folder = StudyFolder(tmp_path / "none")
    assert folder.trials() is None and folder.pareto() is None
    assert folder.full_training() is None
    assert folder.run() == {} and folder.archs() == {} and folder.arch_files() == []


def test_register_study_below_the_report_layer_reads_the_folders_names(written):
    """nas.models sits below nas.report, so it spells the two names it reads itself."""
    from nas.models import register_study, timm_registry

    folder, specs = written
    assert (timm_registry.STUDY_ARCHS, timm_registry.STUDY_RUN) == (
        StudyFolder.ARCHS,
        StudyFolder.RUN,
    )
    assert register_study(folder.root) == [f"nas_tiny_10k_{specs[1].arch_id}"]
