"""Sphinx configuration of fastrnn's documentation.

Build: ``pip install ".[docs]"`` then ``sphinx-build -W -b html docs docs/_build/html``
(``-W``: every warning is an error, as in CI). The API reference is generated
from the NumPy-style docstrings (numpydoc); the task pages draw their pictures
at build time with matplotlib's plot directive, so they always show what the
installed fastrnn computes.
"""
import fastrnn

project = "fastrnn"
author = "the fastrnn developers"
copyright = "2026, the fastrnn developers"
version = release = fastrnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "matplotlib.sphinxext.plot_directive",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
root_doc = "index"

autosummary_generate = True
autodoc_typehints = "none"          # the signatures show them; numpydoc shows the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]
plot_rcparams = {"figure.figsize": (7.0, 3.2)}

myst_heading_anchors = 3
html_theme = "alabaster"
html_static_path = []
