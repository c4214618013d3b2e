"""DevStack's ``iniset FILE SECTION OPTION VALUE`` outside DevStack.

Sets one option the way DevStack's iniset leaves a file: an existing
active ``option =`` line of the section is replaced, otherwise the option
goes right under the section header, and a missing section (or file) is
appended.  Commented lines (the generated samples' defaults) are kept, so
the plugin's values land inside the real generated file.  Used by
tools/services/45-openstack.sh and by the stubbed DevStack of
tests/unit/devstack/.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path


def iniset(text: str, section: str, option: str, value: str) -> str:
    lines = text.splitlines()
    header = f"[{section}]"
    active = re.compile(rf"^\s*{re.escape(option)}\s*=")
    line = f"{option} = {value}"
    try:
        start = lines.index(header)
    except ValueError:
        if lines and lines[-1].strip():
            lines.append("")
        return "\n".join([*lines, header, line]) + "\n"
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].startswith("[")), len(lines))
    for i in range(start + 1, end):
        if active.match(lines[i]):
            lines[i] = line
            break
    else:
        lines.insert(start + 1, line)
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    path, section, option, value = argv
    target = Path(path)
    old = target.read_text() if target.exists() else ""
    target.write_text(iniset(old, section, option, value))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
