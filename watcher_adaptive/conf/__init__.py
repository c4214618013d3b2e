"""Configuration options of watcher-adaptive, one module per group.

Every option is declared once here and listed by :func:`opts.list_opts`
for ``oslo-config-generator`` (namespace ``watcher_adaptive``).
"""
