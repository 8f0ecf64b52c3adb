from __future__ import annotations

import dataclasses

import pytest

from nas.cli.train import main, parser
from nas.train.recipe import Recipe


def test_every_recipe_value_is_an_option():
    p = parser()
    for f in dataclasses.fields(Recipe):
        flag = "--" + f.name.replace("_", "-")
        assert flag in p._option_string_actions, flag


def test_options_override_only_what_is_given():
    args = parser().parse_args(
        ["--arch", "x", "--aa", "rand-m7", "--drop-path", "auto", "--no-ema", "--lr", "2e-3"]
    )
    given = {k: v for k, v in vars(args).items() if k.startswith("recipe.") and v is not None}
    assert given == {
        "recipe.auto_augment": "rand-m7",
        "recipe.ema": False,
        "recipe.lr": 2e-3,
    }  # drop_path auto = the default (None)


def test_arch_or_from_is_required(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err == "nas-train: error: one of the arguments --arch --from is required\n"
    assert main(["--arch", "spach_xxs_patch16_224_conv"]) == 2
    assert "--data" in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--top", "3"], ["--pick", "0123456789"]])
def test_top_and_pick_are_refused_with_arch(option, capsys):
    """They choose among a study's picks; with --arch they would be silently ignored."""
    assert main(["--arch", "spach_xxs_patch16_224_conv", "--data", "fashion-mnist", *option]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"nas-train: error: {option[0]}: chooses among a study's Pareto")
    assert "--from" in err and len(err.splitlines()) == 1
