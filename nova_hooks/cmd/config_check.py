"""Read an oslo.config command line and configuration files, or say in
one line why not.

oslo.config raises on a missing ``--config-file`` and only when an
option is first read on a malformed value: a traceback at start, or in
the middle of the service's loop.  Both daemons (``nova-adaptive-agent``
and ``watcher-adaptive-collector``) read every option once here instead,
so a bad file stops them at once with exit status 2.
"""
from __future__ import annotations

import re
import sys
from typing import Optional
from typing import Sequence

from oslo_config import cfg


def load(conf: cfg.ConfigOpts, argv: Optional[Sequence[str]], *,
         project: str, prog: str, description: str,
         epilog: str) -> Optional[str]:
    """Parse ``argv`` (``sys.argv[1:]`` when ``None``) into ``conf``
    and read every registered option.

    :returns: ``None``, or the one-line error to print before exit 2.
    """
    try:
        conf(args=list(sys.argv[1:] if argv is None else argv),
             project=project, prog=prog, description=description,
             epilog=epilog)
        for name in list(conf):
            item = conf[name]
            if isinstance(item, cfg.ConfigOpts.GroupAttr):
                for opt in list(item):
                    item[opt]
    except (cfg.Error, ValueError) as exc:
        # oslo.config names the file through a LocationInfo repr
        text = re.sub(r"from LocationInfo\(.*?detail='([^']*)'\)",
                      r"in \1", str(exc))
        return f"{prog}: error: {text}"
    return None
