"""Signed webhooks: HMAC-SHA256 over ``<timestamp>.<body>`` so a receiver can check both who sent it and that it
is fresh, a stable delivery id so a receiver can drop duplicates, and exponential backoff between attempts.
The services queue deliveries in their own transactions and drive attempts with durable timers."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import httpx

SIGNATURE_HEADER = "x-dipflow-signature"
TIMESTAMP_HEADER = "x-dipflow-timestamp"
DELIVERY_HEADER = "x-dipflow-delivery"
ATTEMPT_HEADER = "x-dipflow-attempt"
MAX_DELAY = timedelta(hours=1)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def retry_delay(base_s: float, attempt: int) -> timedelta:
    """The wait after failed attempt ``attempt`` (1-based): base, twice that, four times … at most an hour."""
    return min(timedelta(seconds=base_s * 2 ** (attempt - 1)), MAX_DELAY)


async def post_signed(
    url: str, secret: str, body: bytes, *, delivery_id: str, attempt: int, timeout_s: float = 5.0
) -> str | None:
    """One attempt. None when the receiver answered 2xx, else what went wrong."""
    timestamp = str(int(datetime.now(UTC).timestamp()))
    headers = {
        "content-type": "application/json",
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        TIMESTAMP_HEADER: timestamp,
        DELIVERY_HEADER: delivery_id,
        ATTEMPT_HEADER: str(attempt),
    }
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            answer = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return None if answer.status_code // 100 == 2 else f"HTTP {answer.status_code}"
