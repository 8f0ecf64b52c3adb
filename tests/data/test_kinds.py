"""A data source is one module in nas/data/kinds/: the package imports every module it holds,
so a new kind registers itself with no list to extend."""

from __future__ import annotations

import importlib
import pkgutil
import shutil
import sys

import nas.data.kinds
from nas.data.registry import kinds


def test_a_new_module_in_the_kinds_package_is_imported(tmp_path, monkeypatch):
    """The package's own __init__, in a copy that holds one more module."""
    package = tmp_path / "copied_kinds"
    package.mkdir()
    shutil.copy(nas.data.kinds.__file__, package / "__init__.py")
    (package / "new_kind.py").write_text("IMPORTED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("copied_kinds")
    assert sys.modules["copied_kinds.new_kind"].IMPORTED


def test_every_shipped_module_registers_a_kind():
    modules = {f"nas.data.kinds.{m.name}" for m in pkgutil.iter_modules(nas.data.kinds.__path__)}
    assert {k.proxy.__module__ for k in kinds().values()} == modules


def test_a_study_records_its_data_folder_absolute(tmp_path, monkeypatch):
    from nas.data.source import absolute_data, data_identity

    (tmp_path / "imgs" / "a").mkdir(parents=True)
    (tmp_path / "imgs" / "a" / "1.png").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    recorded = absolute_data("folder:./imgs")
    assert recorded == f"folder:{tmp_path / 'imgs'}"
    assert data_identity(recorded) == data_identity("folder:imgs")  # the same data
    assert absolute_data("fashion-mnist") == "fashion-mnist"
