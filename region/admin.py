"""
The administrative subcommands of ``maas-region``: migrate, createadmin, apikey,
shared-secret.

Each is a coroutine taking the database and writing to the streams it is
given, so tests can run them without a terminal.  A :class:`CommandError`
carries the message printed before exiting non-zero.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import TextIO

from region.db import tokens, users
from region.db.migrate import migrate
from region.db.pool import Database, Tx
from region.domain.credentials import parse_api_key
from region.domain.passwords import hash_password
from region.rpc.secret import BadSecret, shared_secret
from rpc.auth import secret_to_text, write_secret


class CommandError(Exception):
    """The command cannot do what was asked; the message says why."""


async def run_migrate(db: Database, out: TextIO) -> None:
    applied = await migrate(db)
    if applied:
        for migration in applied:
            print(f"Applied migration {migration.version:04d}_{migration.name}", file=out)
    else:
        print("No migrations to apply; the database is up to date.", file=out)


def _ask(prompt: str, reader: Callable[[str], str]) -> str:
    try:
        return reader(prompt).strip()
    except EOFError:
        return ""


async def run_createadmin(
    db: Database,
    *,
    username: str | None,
    password: str | None,
    email: str | None,
    prompt: Callable[[str], str] = input,
    prompt_secret: Callable[[str], str] = getpass.getpass,
) -> None:
    """Create a superuser, asking for whatever was not given (as MAAS does)."""
    if not username:
        username = _ask("Username: ", prompt)
        if not username:
            raise CommandError("You must input a username or provide it with --username.")
    if password is None:
        password = _ask("Password: ", prompt_secret)
        again = _ask("Again: ", prompt_secret)
        if password != again:
            raise CommandError("Passwords do not match")
    if not password:
        raise CommandError("Passwords cannot be empty")
    if not email:
        email = _ask("Email: ", prompt)
        if not email:
            raise CommandError("You must input an email or provide it with --email")
    hashed = hash_password(password)

    async def create(tx: Tx) -> None:
        user = await users.create(tx, username=username, email=email, password_hash=hashed,
                                  is_superuser=True)
        await tokens.create(tx, user.id)

    try:
        await db.transaction(create)
    except users.UserExists:
        raise CommandError(f"User {username!r} already exists.") from None
    except Exception as error:
        if getattr(error, "pgcode", None) == "23514":  # check_violation: bad username
            raise CommandError(
                f"Invalid username {username!r}: use letters, digits and . @ + - _ only.") from None
        raise


async def run_apikey(
    db: Database, out: TextIO, *, username: str | None, generate: bool, delete: str | None
) -> None:
    """Print, add or delete a user's API keys."""
    if not username:
        raise CommandError("You must provide a username with --username.")
    if generate and delete:
        raise CommandError("Specify one of --generate or --delete.")
    token_key = None
    if delete is not None:
        try:
            token_key = parse_api_key(delete)[1]
        except ValueError as error:
            raise CommandError(str(error)) from None

    async def work(tx: Tx) -> list[str]:
        user = await users.get_by_username(tx, username)
        if user is None or user.is_system:
            raise CommandError("User does not exist.")
        if token_key is not None:
            if not await tokens.delete_for_user(tx, user.id, token_key):
                raise CommandError("No matching api key found.")
            return []
        if generate:
            return [(await tokens.create(tx, user.id)).api_key]
        existing = await tokens.list_for_user(tx, user.id)
        if not existing:
            existing = [await tokens.create(tx, user.id)]
        return [token.api_key for token in existing]

    for key in await db.transaction(work):
        print(key, file=out)


async def run_shared_secret(db: Database, out: TextIO, *, write: str | None = None) -> None:
    """Print the shared RPC secret as hex, creating it on first use; with write,
    also store it in that file (mode 0640) for a cluster's ``--secret-file``."""
    try:
        secret = await shared_secret(db)
    except BadSecret as error:
        raise CommandError(str(error)) from None
    if write:
        try:
            write_secret(write, secret)
        except OSError as error:
            raise CommandError(f"Cannot write the shared secret to {write}: "
                               f"{error.strerror or error}") from None
    print(secret_to_text(secret), file=out)
