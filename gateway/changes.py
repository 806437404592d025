"""Config changes at run time, as a service of their own: no HTTP in here.

Why a module apart from the API: a change is a transaction over three things (the file on
disk, the `ConfigStore`, the running `Gateway`), and it must be the same whoever asks for it
(the HTTP API today; an MQTT command or a CLI tomorrow). `ConfigChanges.apply`:

1. takes the one lock, so two changes never interleave (the second sees the first's result);
2. checks the caller's ETag and that the file was not edited by hand (`ConfigConflict`);
3. builds the new data from the current config and validates it off the event loop, exactly
   as `gerbang check` does (`ConfigError` listing every problem; nothing changed);
4. writes the file atomically (`WriteFailed`; nothing changed), adopts it, and reconciles the
   gateway; when reconciling fails, the previous file and config are put back and the gateway
   is reconciled to them (`ApplyFailed`).

Step 4 is shielded from cancellation: a client that hangs up (or a shutdown) must not leave
the file written and the gateway half reconciled.

Exceptions:

    Exception
     ├── ConfigError        (gateway.config.issues) the new config is invalid; nothing changed
     ├── ConfigConflict     (gateway.config.store) the caller's ETag is stale; nothing changed
     └── ChangeFailed       the change could not be carried out
          ├── WriteFailed   the file could not be written; nothing changed
          └── ApplyFailed   the gateway could not apply it; the previous config was restored
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from gateway.config.models import Config
from gateway.config.store import Candidate, ConfigStore, write_atomically
from gateway.offloop import bulk
from gateway.service import Gateway, Reconciled

log = logging.getLogger(__name__)

RESTART_FIELDS = ("enabled", "listen", "tls_cert", "tls_key")
"""`api` settings that take effect at the next restart (the server is already listening)."""


class ChangeFailed(Exception):
    """A valid change that could not be carried out; the message says what and what next."""


class WriteFailed(ChangeFailed):
    """The config file could not be written; nothing was changed."""


class ApplyFailed(ChangeFailed):
    """The gateway failed to apply the new config; the previous file and config were restored."""


@dataclass(frozen=True)
class Change:
    """A change that was validated, written and applied."""

    etag: str
    reconciled: Reconciled
    restart_needed: list[str]
    """`api.*` settings written to the file that take effect at the next restart."""


class ConfigChanges:
    """The one way to change the running config: validate, write, apply, or roll back."""

    def __init__(self, gateway: Gateway, store: ConfigStore) -> None:
        self.gateway = gateway
        self.store = store
        self._lock = asyncio.Lock()

    @property
    def busy(self) -> bool:
        """Whether a change is being applied now."""
        return self._lock.locked()

    async def validate(self, make: Callable[[], object]) -> Candidate:
        """Validate the data `make()` builds (from the current config), off the event loop;
        raise ConfigError. Nothing is written or applied."""
        store = self.store
        return await bulk(lambda: store.prepare(make()))

    async def apply(self, make: Callable[[], object], if_match: str | None = None) -> Change:
        """Validate `make()` (built under the lock from the current config), write the file and
        reconcile the gateway. Raises ConfigConflict, ConfigError or ChangeFailed."""
        async with self._lock:
            self.store.check_etag(if_match)
            candidate = await self.validate(make)
            old = self.store.config
            reconciled = await asyncio.shield(self._commit(candidate))
        return Change(self.store.etag, reconciled, restart_fields(old, candidate.config))

    async def _commit(self, candidate: Candidate) -> Reconciled:
        store = self.store
        previous = Candidate(store.text, store.config)
        await self._write(candidate.text, "nothing was changed")
        store.adopt(candidate)
        try:
            return await self.gateway.reconcile(candidate.config)
        except Exception as exc:
            log.error(
                "config change failed while applying (%s: %s); restoring the previous config",
                type(exc).__name__,
                exc,
                exc_info=exc,
            )
            await self._roll_back(previous)
            raise ApplyFailed(
                f"the gateway could not apply the new config ({type(exc).__name__}: {exc}); "
                "the previous config was restored; the gateway log says more"
            ) from exc

    async def _roll_back(self, previous: Candidate) -> None:
        store = self.store
        try:
            await self._write(previous.text, "the file may hold the new config")
        except WriteFailed as exc:
            log.error("config rollback: %s", exc)
        store.adopt(previous)
        try:
            await self.gateway.reconcile(previous.config)
        except Exception as exc:
            log.error(
                "config rollback: the gateway could not re-apply the previous config: %s",
                exc,
                exc_info=exc,
            )

    async def _write(self, text: str, consequence: str) -> None:
        path = self.store.path
        try:
            await asyncio.to_thread(write_atomically, path, text)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            log.error("cannot write %s: %s", path, reason)
            raise WriteFailed(f"cannot write {path}: {reason}; {consequence}") from None


def restart_fields(old: Config, new: Config) -> list[str]:
    """`api.*` settings that differ between `old` and `new` and need a restart."""
    return [
        f"api.{field}"
        for field in RESTART_FIELDS
        if getattr(old.api, field) != getattr(new.api, field)
    ]
