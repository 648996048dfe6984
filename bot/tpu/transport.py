"""HTTP plumbing shared by the Google adapters (the TPU API's versions, Cloud Monitoring):
credentials, a fresh authorized Http per request, the library's own retries (`num_retries`: 429,
5xx and connection errors, exponential backoff, never other 4xx), typed errors, pagination and
the metrics hook."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import google.auth
import google_auth_httplib2
import httplib2
from google.auth import impersonated_credentials
from google.auth.credentials import AnonymousCredentials, Credentials
from googleapiclient import discovery
from googleapiclient.errors import HttpError
from googleapiclient.http import HttpRequest

from bot.core.budget import RequestBudget
from bot.tpu.errors import error_from_http
from bot.usecases.ports import (
    Throttled,
    TpuError,
    Unavailable,
)

API_NAME = "tpu"
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
# Called with (method id, outcome) after every API call: metrics hook.
CallObserver = Callable[[str, str], None]


def make_credentials(
    endpoint: str,
    *,
    impersonate: str | None = None,
    credentials_file: str | None = None,
) -> Credentials:
    """ADC (or a key file), optionally impersonating a service account; anonymous for http://."""
    if endpoint.startswith("http://"):
        return AnonymousCredentials()
    if credentials_file:
        source, _ = google.auth.load_credentials_from_file(credentials_file, scopes=SCOPES)
    else:
        source, _ = google.auth.default(scopes=SCOPES)
    if impersonate:
        return impersonated_credentials.Credentials(
            source_credentials=source, target_principal=impersonate, target_scopes=list(SCOPES)
        )
    return source


class CountingHttp(httplib2.Http):
    """An Http that counts the requests sent through it (to tell a retried call)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent = 0

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self.sent += 1
        return super().request(*args, **kwargs)


class Transport:
    """One endpoint and its credentials; builds each version's service (of the TPU API unless
    `build` names another API). Thread-safe."""

    def __init__(
        self,
        endpoint: str,
        credentials: Credentials,
        *,
        timeout: float,
        retries: int,
        backoff_seconds: float,
        sleep: Callable[[float], None] = time.sleep,
        observer: CallObserver | None = None,
        budget: RequestBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
        label: str = "TPU API",
        errors: Callable[[HttpError], TpuError] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.label = label  # how errors name the service ("TPU API at ... unreachable")
        # How the service's error JSON becomes a typed error (Compute's has no `status`).
        self._errors = errors or error_from_http
        self.budget = budget
        self._clock = clock
        self.timeout = timeout
        self.retries = retries
        self._credentials = credentials
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._observer = observer
        self._rng = random.Random()
        self._rng_lock = threading.Lock()

    def build(
        self, version: str, api: str = API_NAME, document: dict[str, Any] | None = None
    ) -> Any:
        """Static discovery: the document shipped with googleapiclient (`{api}.{version}.json`),
        no network at build time; or `document`, that document already read (and reduced to what
        the caller uses). The Http given here is never used: every execute() gets its own."""
        if document is not None:
            return discovery.build_from_document(
                document,
                http=httplib2.Http(timeout=self.timeout),
                client_options={"api_endpoint": self.endpoint},
                requestBuilder=self._request,
            )
        return discovery.build(
            api,
            version,
            static_discovery=True,
            http=httplib2.Http(timeout=self.timeout),
            client_options={"api_endpoint": self.endpoint},
            requestBuilder=self._request,
            cache_discovery=False,
        )

    def _jitter(self) -> float:
        with self._rng_lock:
            return self._rng.random() * self._backoff

    def _request(self, *args: Any, **kwargs: Any) -> HttpRequest:
        request = HttpRequest(*args, **kwargs)
        # The library's retry loop sleeps rand() * 2**attempt; these hooks scale and inject it.
        request._sleep = self._sleep
        request._rand = self._jitter
        return request

    def http(self) -> CountingHttp:
        return CountingHttp(timeout=self.timeout)

    def execute(
        self, method: str, request: HttpRequest, http: CountingHttp | None = None
    ) -> dict[str, Any]:
        """Run one call (with the library's retries); failures become typed errors. With a
        budget, a call it has no room for is not sent (Throttled)."""
        if self.budget is not None:
            wait = self.budget.take(self._clock())
            if wait > 0:
                if self._observer is not None:
                    self._observer(method, "THROTTLED")
                raise Throttled(
                    "the bot's budget of TPU API requests for commands is spent for now",
                    retry_after=wait,
                )
        outcome = "ok"
        authorized = google_auth_httplib2.AuthorizedHttp(
            self._credentials, http=http or self.http()
        )
        try:
            result = request.execute(http=authorized, num_retries=self.retries)
            return result or {}
        except HttpError as exc:
            error = self._errors(exc)
            outcome = error.status
            raise error from None
        except (OSError, httplib2.HttpLib2Error) as exc:
            outcome = "UNAVAILABLE"
            raise Unavailable(
                f"{self.label} at {self.endpoint} unreachable: {exc.__class__.__name__}: {exc}"
            ) from None
        finally:
            if self._observer is not None:
                self._observer(method, outcome)

    def pages(self, method: str, collection: Any, request: HttpRequest) -> Iterator[dict]:
        """Every page of a list call (`list_next`)."""
        while request is not None:
            response = self.execute(method, request)
            yield response
            request = collection.list_next(request, response)
