"""What a zone offers (accelerator types, versions), read from the API's own lists and cached, so
an impossible request is refused at once, with the valid choices, before anyone is asked."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from bot.core.text import Code, Said, say
from bot.usecases.ports import NotFound, TpuApi

TTL = timedelta(minutes=10)


class Catalog:
    """Per (project, zone): the offered accelerator types and versions, for `TTL`."""

    def __init__(self, ttl: timedelta = TTL) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str, str], tuple[datetime, tuple[str, ...]]] = {}

    def _cached(
        self, key: tuple[str, str, str], now: datetime, load: Callable[[], Sequence[str]]
    ) -> tuple[str, ...]:
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        values = tuple(load())
        with self._lock:
            self._cache[key] = (now, values)
        return values

    def types(self, tpu: TpuApi, project: str, zone: str, now: datetime) -> tuple[str, ...]:
        """The zone's accelerator types; empty when the API does not know the zone."""

        def load() -> list[str]:
            try:
                return [t.type for t in tpu.list_accelerator_types(project, zone)]
            except NotFound:
                return []

        return self._cached((project, zone, "types"), now, load)

    def versions(self, tpu: TpuApi, project: str, zone: str, now: datetime) -> tuple[str, ...]:
        def load() -> list[str]:
            try:
                return [v.version for v in tpu.list_tensorflow_versions(project, zone)]
            except NotFound:
                return []

        return self._cached((project, zone, "versions"), now, load)


def not_offered(
    catalog: Catalog,
    tpu: TpuApi,
    project: str,
    zone: str,
    accelerator_type: str,
    version: str,
    now: datetime,
    *,
    what: str = "TPUs",
    version_word: str = "",
) -> Said | None:
    """Why a zone would refuse this type or version, with the valid choices (None: offered)."""
    types = catalog.types(tpu, project, zone, now)
    if not types:
        return say(
            f"{zone} offers no {what} (or is not a zone); ",
            Code("/tpu types ZONE"),
            " lists a zone's.",
        )
    if accelerator_type not in types:
        return say(
            Code(accelerator_type), f" is not offered in {zone}; one of: {', '.join(types)}."
        )
    versions = catalog.versions(tpu, project, zone, now)
    if version not in versions:
        choices = ", ".join(versions)
        return say(version_word, Code(version), f" is not offered in {zone}; one of: {choices}.")
    return None
