"""The shared secret in the database: created once, whoever asks first."""

from __future__ import annotations

import io

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred, gatherResults

from region.admin import CommandError, run_shared_secret
from region.db import config as db_config
from region.db.pool import Database
from region.rpc.secret import SECRET_ITEM, BadSecret, shared_secret

pytestmark = pytest.mark.integration


@pytest_twisted.ensureDeferred
async def test_created_once_even_by_racing_callers(fresh_db: Database) -> None:
    """Concurrent first uses all get the same 16-byte secret, stored as hex."""
    secrets = await gatherResults(
        [Deferred.fromCoroutine(shared_secret(fresh_db)) for _ in range(5)])
    assert len(set(secrets)) == 1 and len(secrets[0]) == 16
    stored = await fresh_db.transaction(lambda tx: db_config.get(tx, SECRET_ITEM))
    assert stored == secrets[0].hex()
    out = io.StringIO()
    await run_shared_secret(fresh_db, out)
    assert out.getvalue() == secrets[0].hex() + "\n"


@pytest_twisted.ensureDeferred
async def test_an_unusable_stored_secret_is_reported(fresh_db: Database) -> None:
    """A stored value that is not hex is an error that says what to do, not a crash."""
    await fresh_db.transaction(lambda tx: db_config.set_value(tx, SECRET_ITEM, "zz-not-hex"))
    with pytest.raises(BadSecret, match="not valid hex"):
        await shared_secret(fresh_db)
    with pytest.raises(CommandError, match="delete it"):
        await run_shared_secret(fresh_db, io.StringIO())
