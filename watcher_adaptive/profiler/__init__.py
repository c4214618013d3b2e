"""Behavioural profiler.

:mod:`.guest` is the agent that runs inside a guest (standard library
only, so it can be shipped into an image as one zipapp); the rest is the
host side, which treats every byte from a guest as hostile: it frames,
validates, rate-limits and counts (:mod:`.framing`, :mod:`.record`,
:mod:`.gate`), spools (:mod:`.spool`) and pushes the accepted profiles
to Gnocchi (:mod:`.sink`).
"""
