"""Image functions without Docker: rebuild the image's task root from its Dockerfile's COPYs.

An image's handler is importable because the Dockerfile copies code into the task root
(`COPY <src>... ${LAMBDA_TASK_ROOT}/`). Locally the same sources, read from the Docker context,
go on the worker's path, later COPYs first (a later COPY overwrites an earlier one in the
image). Nothing is built or installed: the packages the image installs must already be in the
local Python environment, and any other instruction is ignored.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

# The task root of the Lambda base images, as a Dockerfile may spell it.
_TASK_ROOT = {"${LAMBDA_TASK_ROOT}", "$LAMBDA_TASK_ROOT", "/var/task"}


def _logical_lines(text: str) -> list[str]:
    """Instructions with backslash continuations joined; comments and blank lines dropped."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def task_root_sources(context: Path, dockerfile: Path) -> list[Path]:
    """Folders the Dockerfile copies into the task root, the last COPY first.

    A copied folder stands for its contents (what `COPY dir/ ${LAMBDA_TASK_ROOT}/` does), a
    copied file for the folder that holds it. COPY --from=<stage> (nothing local to read) and
    copies to other destinations are skipped.
    """
    found: list[Path] = []
    for line in _logical_lines(dockerfile.read_text()):
        if not re.match(r"(?i)^(COPY|ADD)\s", line):
            continue
        rest = line.split(None, 1)[1] if len(line.split(None, 1)) > 1 else ""
        flags = re.match(r"((?:--\S+\s+)*)(.*)", rest)
        assert flags is not None  # the pattern matches any string
        if flags.group(2).startswith("["):  # the JSON form: COPY ["src", ..., "dest"]
            words = flags.group(1).split() + list(json.loads(flags.group(2)))
        else:
            words = shlex.split(rest, posix=True)
        if any(w.startswith("--from") for w in words):
            continue
        args = [w for w in words if not w.startswith("--")]
        if len(args) < 2 or args[-1].rstrip("/") not in _TASK_ROOT:
            continue
        for source in args[:-1]:
            path = (context / source).resolve()
            folder = path if path.is_dir() else path.parent
            if folder not in found:
                found.append(folder)
    found.reverse()
    return found
