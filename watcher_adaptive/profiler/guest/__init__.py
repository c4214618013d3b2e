"""The in-guest profiling agent (standard library only).

Nothing here may import outside this package: ``watcher-adaptive
guest-agent-zipapp`` packs it into a single ``.pyz`` file that runs on a
guest's own ``python3`` without the rest of the project.
"""
