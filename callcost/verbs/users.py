"""``callcost users add|list|remove|passwd|token|revoke``: who may sign in to the dashboard and call the API.

Thin shells over :class:`warehouse.users.UserStore` on the config's database.  A password is read from
standard input when it is not a terminal (``echo "$PW" | callcost users add ann --role admin``), else
prompted for twice without echo; it never appears on the command line (where ``ps`` and shell history
would keep it).  Sites and departments are checked against the config: a typo is an error naming it,
never a manager who silently sees nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Optional

import typer

from callcost.cli_common import ConfigOpt, UsageError, console, enterprise, split_values
from warehouse.config import Enterprise
from warehouse.users import ROLES, UserStore, parse_duration


def register(app: typer.Typer) -> None:
    """Add the ``users`` group to the CLI."""
    group = typer.Typer(help="Dashboard and API users: roles, scopes, passwords, API tokens.",
                        no_args_is_help=True)
    for name, fn in (("add", add), ("list", list_users), ("remove", remove), ("passwd", passwd),
                     ("token", token), ("revoke", revoke)):
        group.command(name)(fn)
    app.add_typer(group, name="users")


@contextmanager
def _store(config) -> Iterator[tuple[Enterprise, UserStore]]:
    ent = enterprise(config)
    with UserStore(ent.storage.database) as store:
        yield ent, store


def _password(confirm: bool = True) -> str:
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise UsageError("no password on standard input (pipe one line, or run in a terminal to be asked)")
        return line.rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)


def known_departments(ent: Enterprise) -> set[str]:
    """Every department of the directory, with each parent of a ``Parent/Child`` path."""
    if ent.directory_file is None:
        return set()
    from analytics.rating.directory import load_directory

    out: set[str] = set()
    for dep in load_directory(ent.directory_file)["department"].dropna().unique():
        parts = str(dep).split("/")
        out.update("/".join(parts[:i]) for i in range(1, len(parts) + 1) if parts[i - 1])
    return out


def _check_scope(ent: Enterprise, sites: list[str], departments: list[str]) -> None:
    for site in sites:
        if site not in ent.sites:
            raise UsageError(f"--sites: unknown site '{site}' (the config has: {', '.join(sorted(ent.sites))})")
    if departments:
        known = known_departments(ent)
        if not known:
            raise UsageError("--departments: the config has no [directory] file, so it knows no departments")
        for dep in departments:
            if dep not in known:
                raise UsageError(f"--departments: unknown department '{dep}' (the directory has: "
                                 f"{', '.join(sorted(known))})")


def add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ @ -).")],
    role: Annotated[str, typer.Option("--role", help="admin (everything, manages users), analyst (everything, "
                                                     "read-only) or manager (only --sites / --departments).")],
    sites: Annotated[Optional[list[str]], typer.Option("--sites", help="A manager's sites: NYC,LON (config ids).")]
    = None,
    departments: Annotated[Optional[list[str]], typer.Option("--departments", help="A manager's departments "
                                                                                   "(directory names).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Add a user; the password is read from standard input, or asked for twice.

    Example: callcost users add ann --role manager --sites NYC,LON
    """
    if role not in ROLES:
        raise UsageError(f"--role '{role}' is not one of: {', '.join(ROLES)}")
    with _store(config) as (ent, store):
        site_list, dep_list = split_values(sites), split_values(departments)
        _check_scope(ent, site_list, dep_list)
        user = store.add(name, role, _password(), sites=site_list or None, departments=dep_list or None)
        console.print(f"added {user.name} ({user.role})", highlight=False)


def list_users(config: ConfigOpt = None) -> None:
    """List the users: name, role, sites, departments, created.

    Example: callcost users list
    """
    with _store(config) as (_, store):
        users = store.list()
        if not users:
            console.print("no users (callcost users add NAME --role admin adds one)", highlight=False)
        for u in users:
            typer.echo(f"{u.name}\t{u.role}\tsites={','.join(sorted(u.sites)) if u.sites else '*'}\t"
                          f"departments={','.join(sorted(u.departments)) if u.departments else '*'}\t"
                          f"created={u.created_at:%Y-%m-%d %H:%M}Z")  # tabs kept: scripts split on them


def remove(name: Annotated[str, typer.Argument(help="The user to delete.")], config: ConfigOpt = None) -> None:
    """Delete a user with their API tokens and sessions (signed out at once).

    Example: callcost users remove ann
    """
    with _store(config) as (_, store):
        store.remove(name)
        console.print(f"removed {name}", highlight=False)


def passwd(name: Annotated[str, typer.Argument(help="The user whose password changes.")],
           config: ConfigOpt = None) -> None:
    """Set a user's password (from standard input, or asked for twice); their sessions end.

    Example: callcost users passwd ann
    """
    with _store(config) as (_, store):
        store.get(name)  # an unknown name fails before asking for a password
        store.set_password(name, _password())
        console.print(f"password of {name} changed", highlight=False)


def token(
    name: Annotated[str, typer.Argument(help="The user the token acts as.")],
    expires: Annotated[str, typer.Option("--expires", help="Lifetime: 30d, 12h, 90m or never.")] = "30d",
    config: ConfigOpt = None,
) -> None:
    """Print a new API token for a user (shown only this once; only its hash is stored).

    Example: callcost users token ann --expires 90d
    """
    lifetime = parse_duration(expires, "--expires")
    with _store(config) as (_, store):
        typer.echo(store.new_token(name, lifetime))


def revoke(name: Annotated[str, typer.Argument(help="The user whose tokens stop working.")],
           config: ConfigOpt = None) -> None:
    """Revoke every API token of a user.

    Example: callcost users revoke ann
    """
    with _store(config) as (_, store):
        n = store.revoke_tokens(name)
        console.print(f"revoked {n} token{'s' if n != 1 else ''} of {name}", highlight=False)
