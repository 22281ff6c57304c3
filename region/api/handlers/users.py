"""``users/`` and ``users/{username}/``: the user accounts of this MAAS.

Anyone logged in may list users; only administrators create, read one of, or
delete them.  A new user gets an API key straight away, as in MAAS 1.8.  The
built-in accounts that own node and cluster credentials are never shown.
Passwords are hashed in a child process, never in the reactor.
"""

from __future__ import annotations

import re
from typing import Any

from region.api.context import RequestContext
from region.api.errors import NotFound, ValidationError
from region.api.handlers.account import mandatory
from region.api.registry import ADMIN, Handler, Param
from region.api.responses import DELETED, Response
from region.db import tokens as db_tokens
from region.db import users as db_users
from region.db.pool import Tx
from region.domain.passwords import hash_password_off_reactor

USERS = Handler("UsersHandler", "users/", "Manage the user accounts of this MAAS.")
USER = Handler("UserHandler", "users/{username}/", "Manage a user account.")

#: What the users table accepts (its CHECK constraint): Django's username characters.
_USERNAME = re.compile(r"[A-Za-z0-9.@+_-]{1,150}")
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+")
_MAX_EMAIL = 254
#: scrypt takes any length; this only bounds the work one request can ask for.
_MAX_PASSWORD = 4096


def _parse_flag(value: str) -> bool:
    if value == "1":
        return True
    if value == "0":
        return False
    raise ValidationError("Not a valid Boolean value (0 or 1)")


def _check_new_user(username: str, email: str, password: str) -> None:
    errors: dict[str, list[str]] = {}
    if not _USERNAME.fullmatch(username):
        errors["username"] = [
            "Enter a valid username of at most 150 characters: letters, digits "
            "and @/./+/-/_ only."]
    if len(email) > _MAX_EMAIL or not _EMAIL.fullmatch(email):
        errors["email"] = ["Enter a valid email address."]
    if not password:
        errors["password"] = ["This field cannot be blank."]
    elif len(password) > _MAX_PASSWORD:
        errors["password"] = [f"Ensure this value has at most {_MAX_PASSWORD} characters."]
    if errors:
        raise ValidationError(errors)


@USERS.operation("GET")
async def read(ctx: RequestContext) -> list[dict[str, Any]]:
    """List users."""
    return [user.to_json() for user in await ctx.db.transaction(db_users.list_users)]


@USERS.operation("POST", auth=ADMIN, params=[
    Param("username", doc="Identifier-style username for the new user."),
    Param("email", doc="Email address for the new user."),
    Param("password", doc="Password for the new user."),
    Param("is_superuser",
          doc="Whether the new user is to be an administrator ('0' for False, '1' for True)."),
])
async def create(
    ctx: RequestContext, username: str | None, email: str | None, password: str | None,
    is_superuser: str | None,
) -> dict[str, Any]:
    """Create a MAAS user account.

    This is not safe: the password is sent in plaintext.  Avoid it for
    production, unless you are confident that you can prevent eavesdroppers
    from observing the request.

    :param username: Identifier-style username for the new user.
    :type username: unicode
    :param email: Email address for the new user.
    :type email: unicode
    :param password: Password for the new user.
    :type password: unicode
    :param is_superuser: Whether the new user is to be an administrator.
    :type is_superuser: bool ('0' for False, '1' for True)

    Returns 400 if any mandatory parameters are missing.
    """
    name = mandatory("username", username)
    address = mandatory("email", email)
    secret = mandatory("password", password)
    superuser = _parse_flag(mandatory("is_superuser", is_superuser))
    _check_new_user(name, address, secret)
    password_hash = await hash_password_off_reactor(ctx.reactor, secret)

    async def work(tx: Tx) -> db_users.User:
        user = await db_users.create(tx, username=name, email=address,
                                     password_hash=password_hash, is_superuser=superuser)
        await db_tokens.create(tx, user.id)
        return user

    try:
        user = await ctx.db.transaction(work)
    except db_users.UserExists:
        raise ValidationError.field(
            "username", "User with this Username already exists.") from None
    return user.to_json()


async def _visible_user(tx: Tx, username: str) -> db_users.User:
    if not _USERNAME.fullmatch(username):
        raise NotFound()  # no account can have that name (and NUL cannot reach SQL)
    user = await db_users.get_by_username(tx, username)
    if user is None or user.is_system:
        raise NotFound()
    return user


@USER.operation("GET", auth=ADMIN)
async def read_user(ctx: RequestContext, username: str) -> dict[str, Any]:
    """Return a user account.

    Returns 404 if the user does not exist.
    """
    user = await ctx.db.transaction(lambda tx: _visible_user(tx, username))
    return user.to_json()


@USER.operation("DELETE", auth=ADMIN)
async def delete(ctx: RequestContext, username: str) -> Response:
    """Delete a user account.

    Returns 404 if the user does not exist.  Returns 400 if an administrator
    tries to delete their own account.  Returns 204 when the user is deleted.
    """
    assert ctx.user is not None
    if ctx.user.username == username:
        raise ValidationError("An administrator cannot self-delete.")

    async def work(tx: Tx) -> None:
        await _visible_user(tx, username)
        if not await db_users.delete(tx, username):
            raise NotFound()

    await ctx.db.transaction(work)
    return DELETED
