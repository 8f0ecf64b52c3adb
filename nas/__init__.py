"""nas: declarative neural architecture search for vision backbones.

`nas.space` (pure Python) describes architectures and search spaces; `nas.models` builds them;
`nas.cost` counts them; `nas.search` and `nas.train` search and train them.
"""

__version__ = "0.1.0"
