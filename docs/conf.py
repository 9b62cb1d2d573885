"""Sphinx configuration: MyST Markdown pages, autodoc from the docstrings,
sphinx-click for the CLI, and pages generated from the code (_ext/fides_docs).

Build: sphinx-build -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent / "_ext")]

import fides_oauth  # noqa: E402

project = "fides_oauth"
author = "the fides_oauth authors"
copyright = "the fides_oauth authors, Apache-2.0"
release = fides_oauth.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx_click",
    "fides_docs",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "_generated/*.md"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}

html_theme = "furo"
html_title = f"fides_oauth {release}"
