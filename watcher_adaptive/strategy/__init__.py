"""The Watcher strategy plug-in ``adaptive_migration``: the thin shell
around :mod:`watcher_adaptive.core` (options, the audit schema, the
cluster read, the actions it emits)."""
