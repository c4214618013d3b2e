"""Sphinx configuration for the watcher-adaptive documentation."""
project = "watcher-adaptive"
copyright = "2026, watcher-adaptive developers"
extensions = [
    "sphinx.ext.autodoc",
    "oslo_config.sphinxext",
    "stevedore.sphinxext",
]
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = ["_static"]
nitpicky = False
