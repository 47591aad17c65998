"""The command line: Typer app, options generated from declarations, the run of one loss command.

Thin glue over io → compute → render; the only layer that knows about exit codes and Typer.
"""

from lossctl.cli.app import app, main

__all__ = ["app", "main"]
