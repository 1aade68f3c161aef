"""Webhook push for servers: the device token is an https URL that receives a JSON POST."""

import httpx

from app.outbox.channels import PushMessage, PushOutcome
from app.outbox.channels.expo import retry_after_seconds


class WebhookProvider:
    name = "webhook"
    max_batch = 100

    def __init__(self, timeout: float = 10.0) -> None:
        self._client = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def _send_one(self, message: PushMessage) -> PushOutcome:
        try:
            response = self._client.post(
                message.token,
                json={"title": message.title, "body": message.body, "data": message.data},
            )
        except httpx.HTTPError as exc:
            return PushOutcome(accepted=False, retryable=True, error=exc.__class__.__name__)
        if response.is_success:
            return PushOutcome(accepted=True)
        if response.status_code in (404, 410):
            return PushOutcome(
                accepted=False, device_gone=True, error=f"HTTP {response.status_code}"
            )
        retryable = response.status_code == 429 or response.status_code >= 500
        return PushOutcome(
            accepted=False,
            retryable=retryable,
            error=f"HTTP {response.status_code}",
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )

    def send(self, messages: list[PushMessage]) -> list[PushOutcome]:
        return [self._send_one(m) for m in messages]

    def receipts(self, tickets: list[str]) -> dict[str, PushOutcome]:
        return {}
