"""What the online clients share: the User-Agent, and one request with its failures sorted."""

from __future__ import annotations

from dataclasses import dataclass
import email.utils
import json
import math
import time
from typing import Any

import aiohttp
from yarl import URL

from .throttle import FailureTracker

USER_AGENT_TEMPLATE = "sinotrack-ha/{version} (Home Assistant)"
MAX_BODY = 64 * 1024
"""A longer answer is not read further (and is no answer)."""


def user_agent(version: str) -> str:
    """The User-Agent that names the integration: ``sinotrack-ha/<version> (Home Assistant)``."""
    return USER_AGENT_TEMPLATE.format(version=version)


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: its status and its JSON body (None: none, bad JSON, over 64 KiB)."""

    status: int
    body: Any


async def fetch_json(
    session: aiohttp.ClientSession,
    method: str,
    url: URL,
    *,
    headers: dict[str, str],
    seconds: float,
    failures: FailureTracker,
    json_body: Any = None,
    ok_statuses: frozenset[int] = frozenset({200}),
) -> Reply | None:
    """Make one request; None (the failure recorded, backoff started) unless it succeeded.

    A status in ``ok_statuses`` is a success (returned with its body); 429 and 503 honour
    ``Retry-After``; 401 and 403 (a refused or missing key) back off for the longest time.
    """
    try:
        async with session.request(
            method,
            url,
            json=json_body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=seconds),
            allow_redirects=False,
        ) as response:
            status = response.status
            retry_after = _retry_after(response.headers.get("Retry-After"))
            raw = await response.content.read(MAX_BODY + 1)
    except TimeoutError:
        failures.failure("timeout", f"no answer from {url.host} within {seconds:g} s")
        return None
    except aiohttp.ClientError as err:
        failures.failure("connection", f"{url.host}: {type(err).__name__}: {_redact(err, url)}")
        return None
    body: Any = None
    if len(raw) <= MAX_BODY:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
    if status in ok_statuses:
        return Reply(status, body)
    if status in {401, 403}:
        failures.failure(
            f"http_{status}", f"{url.host} refused the request (key?)", at_least=failures.maximum
        )
    elif status in {429, 503}:
        failures.failure(f"http_{status}", f"{url.host} asks to slow down", at_least=retry_after)
    else:
        failures.failure(f"http_{status}", f"{url.host} answered HTTP {status}")
    return None


def _redact(err: Exception, url: URL) -> str:
    """The text of ``err`` without the values of ``url``'s query (an API key)."""
    text = str(err)
    for value in url.query.values():
        if value:
            text = text.replace(value, "***")
    return text


def _retry_after(value: str | None) -> float:
    """Seconds of a ``Retry-After`` header (a number or an HTTP date), 0 when absent."""
    if not value:
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except TypeError, ValueError:
            return 0.0
        seconds = when.timestamp() - time.time()
    return seconds if math.isfinite(seconds) and seconds > 0 else 0.0
