"""Exceptions raised by lossctl and the exit statuses they map to.

Only the command-line layer turns these into messages and exit codes; the
library raises them with a message that already names the argument at fault
and, where there is one, the fix.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Exit codes, as ``diff`` and ``grep`` use them."""

    OK = 0
    MISMATCH = 1  # --expect was given and the computed value differs
    USAGE = 2  # any usage or input error
    INTERNAL = 70  # a bug in lossctl (sysexits EX_SOFTWARE)
    INTERRUPTED = 130  # Ctrl-C


class LossctlError(Exception):
    """Base class for every error lossctl reports to a user."""

    status: ExitStatus = ExitStatus.USAGE


class InputError(LossctlError, ValueError):
    """An input array could not be read, parsed or validated."""


class ParameterError(LossctlError, ValueError):
    """A loss parameter is outside its valid range or of the wrong kind."""


class UnknownLossError(LossctlError, KeyError):
    """No loss is registered under the given name or alias."""

    def __init__(self, name: str, suggestions: list[str]):
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"unknown loss {name!r}{hint} ('lossctl list' shows every loss)")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ComputationError(LossctlError, ArithmeticError):
    """The mathematics is undefined or overflows for the given inputs."""


class LossctlWarning(UserWarning):
    """Allowed, but probably not what the user meant; the CLI prints it as ``warning: …``."""
