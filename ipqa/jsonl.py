"""Reading JSON Lines files given by users (evaluation sets, training questions, training data).

One reader so every such file fails the same way: an unreadable file is an ``InputError`` naming it,
a broken line one naming ``path:line``, and blank lines are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from ipqa.errors import InputError


def read_jsonl(path: Path | str, what: str = "file") -> Iterator[tuple[str, int, dict[str, Any]]]:
    """``(where, line number, object)`` for each non-blank line; ``where`` is ``path:line`` for the
    caller's own field errors. ``what`` names the file in the unreadable-file error ("dataset", …)."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), f"cannot read the {what}: {exc.strerror or exc}") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(where, f"not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise InputError(where, "each line must be a JSON object")
            yield where, number, row
