from __future__ import annotations

import importlib
import json
import subprocess
import sys

from nas.cli.flops import BOTH_FIELDS, main
from nas.models import PRESETS
from nas.space import save_spec


def test_json_has_exact_integer_counts(capsys):
    assert main(["spach_ms_s_patch4_224_hybrid", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "spach_ms_s_patch4_224_hybrid"
    assert data["params"] == 63_028_584 and isinstance(data["flops"], int)
    assert data["flops"] == sum(data["by_operator"].values())


def test_spec_file_and_resolution(tmp_path, capsys):
    path = tmp_path / "arch.yaml"
    save_spec(PRESETS["spach_ms_xxs_patch4_224_conv"], path)
    assert main([str(path), "--resolution", "64", "--format", "csv"]) == 0
    header, row = capsys.readouterr().out.strip().splitlines()
    assert header == "name,arch_id,resolution,params,flops,by_operator,uncounted"
    assert row.split(",")[2] == "64"


def test_table_shows_the_audit(capsys):
    assert main(["convmixer_768_32"]) == 0
    out = capsys.readouterr().out
    assert "20,779,874,304" in out and "uncounted aten::add" in out


def test_csv_carries_the_audit_and_resolution_zero_is_refused(capsys):
    assert main(["convmixer_768_32", "--format", "csv", "--resolution", "70"]) == 0
    header, row = capsys.readouterr().out.strip().splitlines()
    record = dict(zip(header.split(","), row.split(",")))
    assert record["resolution"] == "70"
    assert "conv=" in record["by_operator"] and "batch_norm=" in record["by_operator"]
    assert "aten::add=" in record["uncounted"]
    assert main(["convmixer_768_32", "--resolution", "0"]) == 2
    assert "resolution: expected an integer >= 1, got 0" in capsys.readouterr().err


def test_list(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in PRESETS)


def test_errors_are_one_line_without_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "nas.cli.flops", "spach_nope"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [
        "nas-flops: error: unknown preset 'spach_nope'; `nas-flops --list` lists them"
    ]


def test_closed_form_method_builds_nothing_and_gives_exact_ints(capsys):
    assert (
        main(["spach_ms_s_patch4_224_hybrid", "--method", "closed-form", "--format", "json"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["method"] == "closed-form" and data["params"] == 63_028_584
    assert isinstance(data["flops"], int) and data["flops"] == sum(data["by_module"].values())


def test_both_methods_and_their_difference(tmp_path, capsys):
    path = tmp_path / "arch.yaml"
    save_spec(PRESETS["coatnet_0_224"], path)
    assert main([str(path), "--resolution", "64", "--method", "both", "--format", "csv"]) == 0
    header, row = capsys.readouterr().out.strip().splitlines()
    assert header.split(",") == [*BOTH_FIELDS, "by_operator", "uncounted"]
    values = dict(zip(header.split(","), row.split(",")))
    assert values["params"] == values["closed_form_params"]
    assert values["flops"] == values["closed_form_flops"]
    assert values["params_difference"] == values["flops_difference"] == "0"


def test_a_difference_is_shown_and_fails_the_exit_code(tmp_path, capsys, monkeypatch):
    formulas = importlib.import_module("nas.cost.closed_form").BLOCK_COSTS
    right = formulas["conv"]
    monkeypatch.setitem(formulas, "conv", lambda *a: ((right(*a)[0][0], 0), right(*a)[1]))
    path = tmp_path / "arch.yaml"
    save_spec(PRESETS["spach_ms_xxs_patch4_224_conv"], path)
    assert main([str(path), "--resolution", "32", "--method", "both"]) == 1
    out = capsys.readouterr().out
    assert "stages.0: fvcore" in out and "difference -" in out


def test_a_block_without_closed_form_is_one_line(capsys, monkeypatch):
    formulas = importlib.import_module("nas.cost.closed_form").BLOCK_COSTS
    monkeypatch.delitem(formulas, "convmixer")
    assert main(["convmixer_768_32", "--method", "closed-form"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no closed form for mixer 'convmixer'" in err
