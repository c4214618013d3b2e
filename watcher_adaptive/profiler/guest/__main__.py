"""``python -m watcher_adaptive.profiler.guest`` and the zipapp entry."""
import sys

from watcher_adaptive.profiler.guest.agent import main

sys.exit(main())
