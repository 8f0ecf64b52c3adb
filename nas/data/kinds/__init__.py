"""The shipped data kinds, one module each: importing this package imports every module in it,
and each registers its kind (`nas.data.registry`), so a new kind is a new module here."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):  # sorted by name: the order --data help lists
    importlib.import_module(f"{__name__}.{_module.name}")
