"""The ``callcost`` command: a thin shell over library functions an analyst can call from a notebook.

Every verb lives in a ``callcost.verbs.<area>`` module with a ``register(app)`` function; this module
only builds the app, registers them all, and turns exceptions into messages in one place
(:class:`CallcostGroup`), so no verb catches an error to print it:

* a ``CallcostError`` prints ``error: <message>`` (each error of a ``ConfigErrors`` on its own line), exit 1;
* an ``OSError`` (a file, folder or port the user named) prints the file and the reason, exit 1;
* a SQL database that cannot be reached or used (``OperationalError``) says so, exit 1;
* anything else is a bug in callcost: one line and a hint to rerun with ``--debug`` (or
  ``CALLCOST_DEBUG=1``), which lets the traceback of any error through; exit 3.

Exit 2 stays what click makes it, a command line it cannot parse (and ``callcost status``'s alerts).
Exit 4 (``cli_common.EXIT_QUARANTINED``): the command did its work, but quarantined records or whole
files on the way (``import``, ``quarantine retry``).
Help texts are rendered as written (no rich markup), so ``[[pbx]]`` shows as ``[[pbx]]``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Annotated, Any

import sqlalchemy.exc
import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

import callcost
from callcost import verbs
from callcost.cli_common import note
from warehouse.errors import CallcostError, ConfigErrors, first_line

#: Exit status for an error the user can fix (config, input, files) and for a bug in callcost.
EXIT_ERROR, EXIT_BUG = 1, 3


def _os_error(exc: OSError) -> str:
    """``/srv/out/x.csv: Permission denied`` — the file the user named and what the system said."""
    files = [str(f) for f in (exc.filename, exc.filename2) if f is not None]
    reason = exc.strerror or str(exc)
    return f"{' → '.join(files)}: {reason}" if files else reason


class CallcostGroup(TyperGroup):
    """The root command: runs a verb and turns what it raises into a message and an exit status."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (TyperException, typer.Exit, typer.Abort):
            raise  # click's own (Typer vendors click): usage errors (exit 2), typer.Exit(code), Ctrl-C
        except Exception as exc:
            if ctx.params.get("debug"):
                raise  # the traceback, for whoever asked for it
            raise typer.Exit(_report(exc)) from exc


def _report(exc: Exception) -> int:
    """Print *exc* for a user and return the exit status it means."""
    if isinstance(exc, CallcostError):
        for e in exc.errors if isinstance(exc, ConfigErrors) else [exc]:
            note("error:", e)
        return EXIT_ERROR
    if isinstance(exc, OSError):  # a file, folder or port the user named
        note("error:", _os_error(exc))
        return EXIT_ERROR
    if isinstance(exc, sqlalchemy.exc.OperationalError):  # the server is down, refuses us, or the DB is locked
        note("error:", f"the SQL database cannot be used: {first_line(exc.orig or exc)}")
        return EXIT_ERROR
    note("internal error:", f"{first_line(exc, with_type=True)} — a bug in callcost; rerun with --debug "
                            "(callcost --debug VERB …) or CALLCOST_DEBUG=1 for the traceback")
    return EXIT_BUG


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"callcost {callcost.__version__}")
        raise typer.Exit()


app = typer.Typer(
    name="callcost",
    cls=CallcostGroup,
    help="What an enterprise's calls cost, and what its IP telephony saves.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _options(
    version_: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                           help="Print the installed callcost version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", envvar="CALLCOST_DEBUG",
                                        help="Show the traceback of an error instead of a one-line message.")] = False,
) -> None:
    """Options of the command itself, before the verb (the app's help text is ``help=`` above)."""


for _module in pkgutil.iter_modules(verbs.__path__):
    importlib.import_module(f"{verbs.__name__}.{_module.name}").register(app)
