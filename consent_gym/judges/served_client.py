"""The HTTP side of a served judge: JSON requests to an OpenAI-compatible server.

:class:`ServerClient` posts one JSON body and returns the parsed JSON answer, or raises a
:class:`ServerError` that names what went wrong (time-out, connection refused, an HTTP
status with the start of the server's message, a body that is not JSON). Rate limiting
(429) and the statuses of a server that is restarting or overloaded (502, 503, 504), and a
refused or dropped connection, are retried with exponential backoff, a bounded number of
times (:class:`RetryPolicy`); nothing else is retried, so a fault costs at most a few
seconds and then fails closed in the judge.

The API key is read from an environment variable at each request: it is never stored on
the client, printed, logged, nor part of any judge id or audit line.

Only the standard library is used (``urllib``); a thread pool in the judge keeps several
requests in flight.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

__all__ = [
    "RETRY_STATUSES",
    "RetryPolicy",
    "ServerClient",
    "ServerError",
    "normalise_base_url",
]

#: HTTP statuses retried with backoff: rate limiting and a server restarting / overloaded.
RETRY_STATUSES: tuple[int, ...] = (429, 502, 503, 504)
#: How much of an error body a :class:`ServerError` quotes.
_QUOTED_BODY_CHARS = 300


class ServerError(RuntimeError):
    """A served judge's server did not give a usable answer.

    Attributes:
        status: The HTTP status, or ``None`` (no HTTP answer: time-out, connection, JSON).
        body: The start of the server's answer, for messages (never holds the API key).
        kind: ``"timeout"``, ``"connection"``, ``"http"``, ``"json"`` or ``"response"``
            (JSON of the wrong shape), so callers and docs/reliability.md can count them.
        retry_after: The server's ``Retry-After`` header, if it sent one.
    """

    def __init__(self, message: str, *, kind: str, status: int | None = None,
                 body: str = "", retry_after: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.body = body
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff.

    Attributes:
        max_attempts: Tries per request, the first included (>= 1).
        backoff_s: Wait before the second try; doubled before each later one.
        max_backoff_s: Cap on one wait (also on a server's ``Retry-After``).
    """

    max_attempts: int = 4
    backoff_s: float = 0.25
    max_backoff_s: float = 4.0

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or (
            self.max_attempts < 1
        ):
            raise ValueError(f"max_attempts must be an int >= 1, got {self.max_attempts!r}.")
        for name in ("backoff_s", "max_backoff_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}.")

    def wait_s(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based).

        Example:
            >>> policy = RetryPolicy(backoff_s=0.5, max_backoff_s=1.5)
            >>> [policy.wait_s(a) for a in (1, 2, 3)], policy.wait_s(1, retry_after="9")
            ([0.5, 1.0, 1.5], 1.5)
        """
        wait = self.backoff_s * 2 ** (attempt - 1)
        if retry_after is not None:
            with contextlib.suppress(ValueError):  # an HTTP date: keep the exponential wait
                wait = max(wait, float(retry_after))
        return min(wait, self.max_backoff_s)


def normalise_base_url(base_url: str) -> str:
    """``base_url`` without a trailing slash and ending in ``/v1`` (the OpenAI API root).

    Raises:
        ValueError: not an ``http://`` or ``https://`` URL with a host.

    Example:
        >>> normalise_base_url("http://127.0.0.1:8000/")
        'http://127.0.0.1:8000/v1'
        >>> normalise_base_url("https://judge.example/v1")
        'https://judge.example/v1'
    """
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, got {type(base_url).__name__}.")
    parsed = urllib.parse.urlsplit(base_url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(
            f"base_url={base_url!r} is not an http(s) URL with a host; write e.g. "
            "http://127.0.0.1:8000/v1 (the server's OpenAI-compatible root)."
        )
    if parsed.query or parsed.fragment or parsed.username or parsed.password:
        raise ValueError(
            f"base_url={base_url!r} must not hold a query, fragment or credentials; pass the "
            "API key through an environment variable (api_key_env)."
        )
    path = parsed.path.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    return urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, path, "", ""))


class ServerClient:
    """POST JSON to an OpenAI-compatible server, with bounded retries.

    Args:
        base_url: The API root, e.g. ``http://127.0.0.1:8000/v1`` (``/v1`` is added when
            missing).
        api_key_env: Name of the environment variable holding the API key (sent as
            ``Authorization: Bearer ...``); ``None``: no key.
        timeout_s: Seconds one try may take (connect and read).
        retry: The :class:`RetryPolicy`.

    Attributes:
        host, port: Where the server is (they name the judge in its id).
        requests, retries: Counters (tries that got an answer or failed; retried tries).
        faults: Count of each :attr:`ServerError.kind` seen, retried ones included.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key_env: str | None = None,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = normalise_base_url(base_url)
        parsed = urllib.parse.urlsplit(self.base_url)
        self.host = parsed.hostname or ""
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        if api_key_env is not None:
            if not isinstance(api_key_env, str) or not api_key_env:
                raise ValueError("api_key_env must be the name of an environment variable.")
            if not os.environ.get(api_key_env):
                raise ValueError(
                    f"api_key_env={api_key_env!r} names an environment variable that is not "
                    f"set; export {api_key_env}=... (the key is read from there, never "
                    "passed as an argument)."
                )
        self.api_key_env = api_key_env
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not (
            timeout_s > 0
        ):
            raise ValueError(f"timeout_s must be a positive number, got {timeout_s!r}.")
        self.timeout_s = float(timeout_s)
        self.retry = retry or RetryPolicy()
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.faults: dict[str, int] = {}

    def _count(self, field: str, kind: str | None = None) -> None:
        with self._lock:
            setattr(self, field, getattr(self, field) + 1)
            if kind is not None:
                self.faults[kind] = self.faults.get(kind, 0) + 1

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key_env is not None:
            key = os.environ.get(self.api_key_env, "")
            if not key:
                raise ServerError(
                    f"the API key variable {self.api_key_env} is no longer set.",
                    kind="connection",
                )
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _try_once(self, url: str, data: bytes) -> Any:
        """One try; returns the parsed JSON or raises ServerError (with retry hints)."""
        request = urllib.request.Request(url, data=data, headers=self._headers(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            body = _read_quietly(exc)
            raise ServerError(
                f"{url} answered HTTP {exc.code}: {body[:_QUOTED_BODY_CHARS]!r}",
                kind="http", status=exc.code, body=body[:_QUOTED_BODY_CHARS],
                retry_after=exc.headers.get("Retry-After") if exc.headers else None,
            ) from exc
        except TimeoutError as exc:
            raise ServerError(
                f"{url} did not answer within {self.timeout_s:g}s", kind="timeout"
            ) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise ServerError(
                    f"{url} did not answer within {self.timeout_s:g}s", kind="timeout"
                ) from exc
            raise ServerError(f"cannot reach {url}: {exc.reason}", kind="connection") from exc
        except (http.client.HTTPException, ConnectionError, OSError) as exc:
            # RemoteDisconnected, IncompleteRead, a reset: the server went away mid-answer.
            raise ServerError(
                f"{url} dropped the connection: {exc!r}", kind="connection"
            ) from exc
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            text = raw[:_QUOTED_BODY_CHARS].decode("utf-8", "replace")
            raise ServerError(
                f"{url} answered with malformed JSON: {text!r}", kind="json", body=text
            ) from exc

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        """POST ``payload`` to ``base_url/path``; the parsed JSON answer.

        Raises:
            ServerError: after the last try, or at once for what is not retried
                (time-out, malformed JSON, HTTP statuses outside :data:`RETRY_STATUSES`).
        """
        url = f"{self.base_url}/{path.lstrip('/')}"
        data = json.dumps(payload).encode("utf-8")
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = self._try_once(url, data)
            except ServerError as exc:
                self._count("requests", exc.kind)
                retryable = exc.kind == "connection" or exc.status in RETRY_STATUSES
                if not retryable or attempt >= self.retry.max_attempts:
                    if retryable and attempt > 1:
                        raise ServerError(
                            f"{exc} (after {attempt} tries)", kind=exc.kind,
                            status=exc.status, body=exc.body,
                        ) from exc
                    raise
                self._count("retries")
                time.sleep(self.retry.wait_s(attempt, exc.retry_after))
                continue
            self._count("requests")
            return answer

    def __repr__(self) -> str:  # never shows the key, only the variable's name
        return f"ServerClient({self.base_url!r}, api_key_env={self.api_key_env!r})"


def _read_quietly(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read().decode("utf-8", "replace")
    except Exception:  # the body of an error is only for the message
        return ""
