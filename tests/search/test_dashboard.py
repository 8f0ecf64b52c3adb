"""optuna-dashboard opens a study as nas-search leaves it (its journal file) and shows the same
Pareto front as pareto.csv. Its HTTP API is internal to it: only two reads are used here."""

from __future__ import annotations

import json
import threading
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, make_server

import optuna
import pytest
from optuna.trial import TrialState

from nas.report import read_trials
from nas.search.config import SearchConfig
from nas.search.runner import write_reports
from nas.search.storage import open_storage

from .conftest import TINY_PROXY, search_trial

optuna_dashboard = pytest.importorskip(
    "optuna_dashboard", reason="optuna-dashboard not installed (pip install budgeted-nas[test])"
)
pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def test_the_dashboard_serves_the_study_with_pareto_csvs_front(tiny_space, tmp_path):
    cfg = SearchConfig.create(space=str(tiny_space), budget="300K", proxy=TINY_PROXY, out=tmp_path)
    study = optuna.create_study(
        study_name=cfg.study_name, storage=open_storage(cfg.storage), directions=cfg.directions
    )
    # (width, accuracy): FLOPs grow with width; 24 and 40 are dominated, 16 comes twice
    for width, accuracy in ((8, 0.5), (16, 0.9), (24, 0.7), (16, 0.9), (32, 0.95), (40, 0.95)):
        study.add_trial(search_trial(width, accuracy))
    study.add_trial(search_trial(48, 0.3, state=TrialState.FAIL, curve=[0.3]))
    write_reports(cfg, study)
    pareto = read_trials(tmp_path / "pareto.csv")

    app = optuna_dashboard.wsgi(str(cfg.storage))  # the journal file, as the README opens it
    server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}/api/studies"
        (study_id,) = [
            s["study_id"]
            for s in _get(base)["study_summaries"]
            if s["study_name"] == cfg.study_name
        ]
        detail = _get(f"{base}/{study_id}")
    finally:
        server.shutdown()
        server.server_close()
    assert len(detail["trials"]) == 7
    best = {
        a["value"] for t in detail["best_trials"] for a in t["user_attrs"] if a["key"] == "arch_id"
    }
    assert best == set(pareto["arch_id"]) and len(best) == 3
