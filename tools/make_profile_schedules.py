"""Write the behaviour-profile recordings' schedules, one file per run.

Every (application kind, seed) of the data set's splits
(:mod:`watcher_adaptive.predict.profile_split`) gets
``<kind>-<seed>.json`` in the output directory, the schedule
:func:`watcher_adaptive.evaluate.profile_schedule.generate` gives it.  The
files are committed beside the recordings so that a recording can be
redone exactly; a unit test checks that they are what the generator
gives.

    python tools/make_profile_schedules.py \\
        --output tools/data/profile-schedules
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from watcher_adaptive.evaluate import profile_schedule
from watcher_adaptive.predict import profile_split

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "data" / \
    "profile-schedules"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    written = 0
    for split in profile_split.SPLITS:
        for kind, seed in profile_split.runs(split):
            doc = profile_schedule.to_dict(
                profile_schedule.generate(kind, seed))
            path = args.output / f"{kind}-{seed}.json"
            path.write_text(json.dumps(doc, indent=1) + "\n")
            written += 1
    print(f"wrote {written} schedules to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
