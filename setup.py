"""Build glue pyproject.toml cannot express: the shipped search spaces keep their home in the
top-level search_spaces/ and are installed inside the package, as nas/search_spaces/*.yaml,
where `nas.space.spaces_dir()` finds them in an installed wheel or sdist (the comparison
suites too, in search_spaces/suites/). Everything else is
in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["nas", "nas.*"]), "nas.search_spaces"],
    package_dir={"nas.search_spaces": "search_spaces"},
    package_data={"nas.search_spaces": ["*.yaml", "suites/*.yaml"]},
)
