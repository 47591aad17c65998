"""Rich tables on a standard output that cannot encode Unicode: spelled in ASCII before layout, so columns line up.

Spelling after layout (``ŷᵢ`` → ``y_hat_i`` at write time) widened cells Rich had already measured.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1])
ASCII_ENVIRONMENTS = {
    "ascii": {"PYTHONIOENCODING": "ascii"},
    "C": {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"},
    "latin-1": {"PYTHONIOENCODING": "latin-1"},
}
COMMANDS = {
    "list": ["list"],
    "info": ["info", "huber"],
    "info-ssim": ["info", "ssim"],
    "compare": ["compare", "--pred", "0.2,0.7", "--target", "0,1"],
    "conventions": ["bce", "--pred", "0.2,0.7", "--target", "0,1", "--convention", "all"],
    "result": ["mse", "--pred", "1,2,3", "--target", "1,3,2"],
}


def _run(argv: list[str], env: dict[str, str], columns: int) -> str:
    environment = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": str(columns), **env}
    done = subprocess.run([sys.executable, "-m", "lossctl", *argv], capture_output=True, env=environment, check=False)
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    return done.stdout.decode("ascii")  # nothing but ASCII


def table_blocks(text: str) -> list[list[str]]:
    """Runs of consecutive lines drawn with an ASCII box (``|`` or ``+`` first)."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith(("|", "+")):
            current.append(line.rstrip())
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def assert_aligned(block: list[str]) -> None:
    """Every line as wide as the borders, and a column bar in every row where the header rule has a joint."""
    widths = {len(line) for line in block}
    assert len(widths) == 1, "\n".join(block)
    rule = next(line for line in block[1:] if line.startswith("|-"))
    edges = [i for i, char in enumerate(rule) if char in "|+"]
    assert len(edges) >= 3, rule  # at least two columns
    for line in block[1:-1]:
        assert all(line[i] in "|+" for i in edges), "\n".join(block)


CASES = [
    *(("ascii", name, 200) for name in sorted(COMMANDS)),
    ("C", "list", 120),
    ("C", "compare", 200),
    ("latin-1", "list", 240),
    ("latin-1", "info", 90),
]


@pytest.mark.parametrize(("environment", "name", "columns"), CASES)
def test_columns_line_up(environment: str, name: str, columns: int) -> None:
    text = _run(COMMANDS[name], ASCII_ENVIRONMENTS[environment], columns)
    blocks = table_blocks(text)
    assert blocks, text
    for block in blocks:
        assert_aligned(block)


def test_the_list_spells_formulas_inside_their_cells() -> None:
    text = _run(["list"], ASCII_ENVIRONMENTS["ascii"], 240)
    mse = next(line for line in text.splitlines() if line.startswith("| mse "))
    assert "l_i = (y_hat_i - y_i)^2" in mse


def test_a_unicode_stdout_is_left_unicode() -> None:
    environment = {**os.environ, "PYTHONPATH": SRC, "PYTHONIOENCODING": "utf-8", "COLUMNS": "240"}
    done = subprocess.run([sys.executable, "-m", "lossctl", "list"], capture_output=True, env=environment, check=True)
    assert "ŷᵢ" in done.stdout.decode("utf-8")


def test_the_helper_keeps_styles_on_their_words() -> None:
    from rich.text import Text

    from lossctl.render.console import ascii_text

    text = Text.assemble(("ŷᵢ", "bold"), " = ", ("Σ ℓ", "red"))
    spelled = ascii_text(text)
    assert spelled.plain == "y_hat_i = sum l"
    styled = {spelled.plain[span.start : span.end]: str(span.style) for span in spelled.spans}
    assert styled == {"y_hat_i": "bold", "sum l": "red"}
