"""The Expo push API: batches of up to 100 messages answered with tickets, then receipts.

Wire format: POST {base}/--/api/v2/push/send with a JSON list of messages, answered
``{"data": [{"status": "ok", "id": ...} | {"status": "error", "details": {"error": ...}}]}``;
POST {base}/--/api/v2/push/getReceipts with ``{"ids": [...]}``, answered
``{"data": {id: {"status": "ok"} | {"status": "error", "details": {"error": ...}}}}``.
"""

import email.utils
from datetime import UTC, datetime
from typing import Any

import httpx

from app.outbox.channels import PushMessage, PushOutcome, failed_all

SEND_PATH = "/--/api/v2/push/send"
RECEIPTS_PATH = "/--/api/v2/push/getReceipts"
MAX_RECEIPT_IDS = 1000
# Errors that another try will not fix; DeviceNotRegistered also disables the device.
PERMANENT = {"DeviceNotRegistered", "InvalidCredentials", "MessageTooBig", "MismatchSenderId"}


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as delay-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _outcome(item: dict[str, Any], ticket_key: str = "id") -> PushOutcome:
    if item.get("status") == "ok":
        return PushOutcome(accepted=True, ticket=item.get(ticket_key))
    error = str((item.get("details") or {}).get("error") or item.get("message") or "error")
    return PushOutcome(
        accepted=False,
        retryable=error not in PERMANENT,
        device_gone=error == "DeviceNotRegistered",
        error=error[:200],
    )


class ExpoProvider:
    name = "expo"
    max_batch = 100

    def __init__(self, base_url: str, access_token: str = "", timeout: float = 10.0) -> None:
        headers = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate"}
        if access_token:
            headers["Authorization"] = f"Bearer {access_token}"
        self._client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def _post(self, path: str, payload: Any) -> httpx.Response | str:
        """The response, or why there was none."""
        try:
            return self._client.post(path, json=payload)
        except httpx.TimeoutException:
            return "timeout"
        except httpx.TransportError as exc:
            return f"transport error: {exc.__class__.__name__}"

    def send(self, messages: list[PushMessage]) -> list[PushOutcome]:
        payload = [
            {"to": m.token, "title": m.title, "body": m.body, "data": m.data, "sound": "default"}
            for m in messages
        ]
        response = self._post(SEND_PATH, payload)
        if isinstance(response, str):
            return failed_all(messages, response, retryable=True)
        if response.status_code == 429 or response.status_code >= 500:
            return failed_all(
                messages,
                f"HTTP {response.status_code}",
                retryable=True,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if response.status_code >= 400:
            return failed_all(messages, f"HTTP {response.status_code}", retryable=False)
        try:
            items = response.json()["data"]
        except (ValueError, KeyError, TypeError):
            return failed_all(messages, "unreadable response", retryable=True)
        if not isinstance(items, list) or len(items) != len(messages):
            return failed_all(messages, "response does not match the batch", retryable=True)
        return [_outcome(item) for item in items]

    def receipts(self, tickets: list[str]) -> dict[str, PushOutcome]:
        found: dict[str, PushOutcome] = {}
        for start in range(0, len(tickets), MAX_RECEIPT_IDS):
            chunk = tickets[start : start + MAX_RECEIPT_IDS]
            response = self._post(RECEIPTS_PATH, {"ids": chunk})
            if isinstance(response, str) or response.status_code != 200:
                continue  # asked again on a later tick
            try:
                data = response.json()["data"]
            except (ValueError, KeyError, TypeError):
                continue
            for ticket, item in data.items():
                found[ticket] = _outcome(item)
        return found
