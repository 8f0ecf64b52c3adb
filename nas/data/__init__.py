"""Where images come from: data sources by kind (`nas.data.registry`, one module each in
`nas.data.kinds`), the proxy's drawn subset (`nas.data.proxy`), the cache of decoded images
and class subsets. `nas.train` trains on what this package hands it.

Importing the package loads no torch (commands read the registry for --help and dry runs);
`ProxyData` and `load_proxy_data` load it when first asked for.
"""

from __future__ import annotations

from typing import Any

from .classes import Classes, parse_classes
from .registry import DataKind, data_help, get_kind, kinds, register
from .source import DataSource, data_identity

_LAZY = {"ProxyData": "nas.data.proxy", "load_proxy_data": "nas.data.proxy"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nas.data' has no attribute {name!r}")


__all__ = [
    "Classes",
    "DataKind",
    "DataSource",
    "ProxyData",
    "data_help",
    "data_identity",
    "get_kind",
    "kinds",
    "load_proxy_data",
    "parse_classes",
    "register",
]
