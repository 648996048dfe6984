"""What a zone offers (accelerator types, versions), read from the API's own lists and cached, so
an impossible request is refused at once, with the valid choices, before anyone is asked."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

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
