"""Sphinx configuration of the release notes: reno collects the notes
in releasenotes/notes from the git history (``tox -e releasenotes``)."""
project = "watcher-adaptive release notes"
copyright = "2026, watcher-adaptive developers"
extensions = ["reno.sphinxext"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
# No release is tagged yet: every note is on the unreleased page.
version = ""
release = ""
