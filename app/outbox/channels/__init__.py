"""Push providers behind one small interface: each sends a batch of messages and says, per
message, whether it was accepted, should be retried, or will never go through."""

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class PushMessage:
    device_id: str
    token: str
    title: str
    body: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PushOutcome:
    accepted: bool
    ticket: str | None = None
    retryable: bool = False
    device_gone: bool = False
    error: str | None = None
    retry_after: float | None = None


class PushProvider(Protocol):
    name: str
    max_batch: int

    def send(self, messages: list[PushMessage]) -> list[PushOutcome]:
        """One outcome per message, in order."""
        ...

    def receipts(self, tickets: list[str]) -> dict[str, PushOutcome]:
        """Final outcomes of accepted messages, where the provider reports them."""
        ...


def failed_all(
    messages: list[PushMessage], error: str, *, retryable: bool, retry_after: float | None = None
) -> list[PushOutcome]:
    return [
        PushOutcome(accepted=False, retryable=retryable, error=error, retry_after=retry_after)
        for _ in messages
    ]


class UnsupportedProvider:
    """A device whose provider this server is not configured for."""

    max_batch = 100

    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, messages: list[PushMessage]) -> list[PushOutcome]:
        return failed_all(
            messages, f"{self.name} push is not configured on this server", retryable=False
        )

    def receipts(self, tickets: list[str]) -> dict[str, PushOutcome]:
        return {}
