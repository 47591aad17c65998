"""Keep README.md's table of losses in step with the registry.

``python -m lossctl.render.docs README.md`` rewrites the table between the
``<!-- losses:start -->`` and ``<!-- losses:end -->`` markers.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from lossctl.losses.registry import LOSSES
from lossctl.render.describe import markdown_table

_BLOCK = re.compile(r"(<!-- losses:start -->\n).*?(<!-- losses:end -->)", re.S)


def with_table(readme: str) -> str:
    """``readme`` with its generated table replaced by the current one."""
    table = markdown_table(list(LOSSES.values()))
    return _BLOCK.sub(lambda m: m.group(1) + table + m.group(2), readme)


def main(argv: list[str] | None = None) -> None:
    path = Path((argv or sys.argv[1:] or ["README.md"])[0])
    path.write_text(with_table(path.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()
