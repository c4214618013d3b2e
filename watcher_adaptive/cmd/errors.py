"""The one error the command line turns into a message and exit 2."""
from __future__ import annotations


class UsageError(Exception):
    """Something the user passed is wrong; the message says what."""
