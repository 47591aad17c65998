"""The command line: thin glue from argv to the registry, compute and render.

One funnel (:meth:`LossGroup.main`) turns every exception into a one-line
message on stderr and an exit status; loss sub-commands are built lazily
from their declarations, so start-up does not pay for losses not asked for.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

# Typer vendors Click (typer._click) since 0.27 and re-exports only BadParameter, Abort, Exit and TyperException
# of it; the funnel below tells NoArgsIsHelpError, NoSuchOption and UsageError apart, which only typer._click
# names.  The range of Typer that has this module is pinned in pyproject.toml, its lower bound tested in CI.
from typer import _click as click
from typer.core import TyperGroup

from lossctl import __version__
from lossctl.cli.coercion import use_scalar_coercion
from lossctl.cli.commands import build_loss_command
from lossctl.cli.reference import compare, info, list_losses, plot
from lossctl.errors import ExitStatus, LossctlError, UnknownLossError
from lossctl.io.process import SIGPIPE_STATUS, PipeClosed, StdoutError, Terminated, guarded_process, silence_stdout
from lossctl.losses.registry import LOSSES

# The built-in commands, in the order `lossctl --help` lists them.  Like the loss commands they are built on
# first use, not registered on the app: Typer would build every registered command (and read its signature)
# each time the app is turned into a Click group, once per process and once per in-process test run.
BUILTIN_COMMANDS: dict[str, Callable[..., Any]] = {"list": list_losses, "info": info, "compare": compare, "plot": plot}


@functools.cache
def _builtin_command(name: str) -> click.Command:
    """The Click command of one built-in command (list, info, compare, plot), built once per process."""
    single = typer.Typer(add_completion=False)
    single.command(name=name)(BUILTIN_COMMANDS[name])
    return typer.main.get_command(single)


@functools.cache
def _loss_command(name: str) -> click.Command:
    """The Click command of one loss, built from its declaration once per process."""
    single = typer.Typer(add_completion=False)
    single.command(name=name, context_settings={"help_option_names": ["-h", "--help"]})(
        build_loss_command(LOSSES[name])
    )
    return _plain_flags(use_scalar_coercion(typer.main.get_command(single)))


def _plain_flags(command: click.Command) -> click.Command:
    """On/off flags take no value: no ``<bool>`` beside them in --help."""
    names = command.context_settings.get("help_option_names", ["--help"])
    help_option = command.get_help_option(click.Context(command, help_option_names=names))
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return command


@functools.cache
def _library_command(name: str) -> click.Command | None:
    """A library's own name for a loss (``BinaryCrossentropy``, ``mean_pinball_loss``): that library's way."""
    from lossctl.conventions.registry import library_of_name

    owner = library_of_name(name)
    if owner is None or (owner[0] == "torch" and name in LOSSES.all_names):  # lossctl's own alias: its own path
        return None
    single = typer.Typer(add_completion=False)
    single.command(name=name, context_settings={"help_option_names": ["-h", "--help"]})(
        build_loss_command(LOSSES[owner[1]], invoked=name)
    )
    return _plain_flags(use_scalar_coercion(typer.main.get_command(single)))


class LossGroup(TyperGroup):
    """The built-in commands plus one command per loss name or alias, each built when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *BUILTIN_COMMANDS, *LOSSES]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in BUILTIN_COMMANDS:
            command = _builtin_command(cmd_name)
        if command is not None:
            return _plain_flags(command)
        if cmd_name not in LOSSES and cmd_name[:1].isalpha():
            command = _library_command(cmd_name)  # a library's own spelling (even a lossctl alias) selects it
            if command is not None:
                return command
        spec = LOSSES.find(cmd_name)
        if spec is None:
            return None
        return _loss_command(spec.name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            try:
                LOSSES.resolve(name)  # raises UnknownLossError with "did you mean"
            except UnknownLossError as exc:
                from lossctl.cli.suggest import suggest_name  # on errors only: start-up does not pay for it

                builtin = suggest_name(name, [*super().list_commands(ctx), *BUILTIN_COMMANDS])
                raise UnknownLossError(name, [*builtin, *exc.suggestions][:3]) from None
        return super().resolve_command(ctx, args)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        _plain_flags(use_scalar_coercion(self))  # --version, --debug …: no Pydantic for the group's own options
        argv = _debug_first(list(sys.argv[1:] if args is None else args))
        debug = "--debug" in argv or os.environ.get("LOSSCTL_DEBUG", "") not in ("", "0")
        with guarded_process() as stdout:
            try:
                status = self._run(
                    argv, prog_name, complete_var, debug, windows_expand_args=windows_expand_args, **extra
                )
                stdout.flush()  # inside the funnel: a closed pipe or a full disk is reported here, not at exit
            except PipeClosed:
                status = _quiet_broken_pipe(stdout)
            except StdoutError as exc:
                silence_stdout(stdout)
                status = _report(str(exc))
            except Terminated as exc:
                status = _report_ending(f"terminated by {exc}", exc.status)
        status = int(status or 0)
        if standalone_mode:
            sys.exit(status)
        return status

    def _run(self, argv: list[str], prog_name: str | None, complete_var: str | None, debug: bool, **extra: Any) -> int:
        """Run one command; every exception becomes a message and an exit status."""
        try:
            status = super().main(argv, prog_name or "lossctl", complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            sys.stdout.write(exc.format_message() + "\n")
            status = ExitStatus.OK
        except click.exceptions.NoSuchOption as exc:
            status = _report(_no_such_option(exc), _help_hint(exc.ctx))
        except click.exceptions.UsageError as exc:
            status = _report(exc.format_message(), _help_hint(exc.ctx))
        except click.exceptions.ClickException as exc:
            status = _report(exc.format_message())
        except (PipeClosed, StdoutError):
            raise
        except LossctlError as exc:
            status = _report(str(exc), status=exc.status)
        except (KeyboardInterrupt, typer.Abort):
            status = _report_ending("\ninterrupted", ExitStatus.INTERRUPTED)
        except BrokenPipeError:
            status = _quiet_broken_pipe(sys.stdout)
        except Exception as exc:
            if debug:
                raise
            status = _report(
                f"internal error: {type(exc).__name__}: {exc}",
                "this is a bug in lossctl; rerun with --debug (or LOSSCTL_DEBUG=1) for the traceback and report it",
                status=ExitStatus.INTERNAL,
            )
        return int(status or 0)


def _debug_first(argv: list[str]) -> list[str]:
    """``--debug`` anywhere on the line (before ``--``) is the group's option: move it to the front."""
    end = argv.index("--") if "--" in argv else len(argv)
    if "--debug" not in argv[:end]:
        return argv
    return ["--debug", *[arg for arg in argv[:end] if arg != "--debug"], *argv[end:]]


def _no_such_option(exc: click.exceptions.NoSuchOption) -> str:
    """``No such option: --tau; did you mean --q? (…)`` over the command's options and other libraries' names."""
    from lossctl.cli.suggest import suggest_name, suggest_option

    message = f"No such option: {exc.option_name}"
    command = exc.ctx.command if exc.ctx is not None else None
    if command is None:
        return message
    options = [name for param in command.params for name in (*param.opts, *param.secondary_opts)]
    spec = LOSSES.find(command.name or "")
    if spec is not None:
        clause = suggest_option(spec, exc.option_name, options)
    else:
        close = suggest_name(exc.option_name, [o for o in options if o.startswith("--")])
        clause = f"did you mean {close[0]}?" if close else ""
    return f"{message}; {clause}" if clause else message


def _help_hint(ctx: click.Context | None) -> str:
    command = ctx.command_path if ctx is not None else "lossctl"
    return f"try '{command} --help'"


def _report(message: str, hint: str | None = None, status: int = ExitStatus.USAGE) -> int:
    """Print ``error: message`` (and a hint line) on stderr; nothing goes to stdout."""
    return _report_ending(f"error: {message}" + (f"\n  {hint}" if hint else ""), status)


def _report_ending(text: str, status: int) -> int:
    """One or two lines on stderr (which may itself be gone: a hung-up terminal), and the status."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    return status


def _quiet_broken_pipe(stdout: Any) -> int:
    """The reader went away (``| head``): stop quietly, without a second error at exit."""
    silence_stdout(stdout)
    return SIGPIPE_STATUS


app = typer.Typer(
    cls=LossGroup,
    name="lossctl",
    help="Compute machine-learning losses, their reductions and gradients.\n\n"
    "Example: lossctl mse --pred 2,3,4,5 --target 4,5,6,7",
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"lossctl {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks of internal errors.")] = False,
) -> None:
    """Compute machine-learning losses, their reductions and gradients."""


def main() -> None:
    """Console-script entry point."""
    app()
