"""Found networks as standalone Python files that need torch and timm only (`nas-export`)."""

from .source import ExportError, gather
from .standalone import (
    Exported,
    export_architecture,
    export_checkpoint,
    module_name,
    module_source,
)

__all__ = [
    "ExportError",
    "Exported",
    "export_architecture",
    "export_checkpoint",
    "gather",
    "module_name",
    "module_source",
]
