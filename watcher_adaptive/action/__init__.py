"""Watcher actions of watcher-adaptive (namespace ``watcher_actions``)."""
