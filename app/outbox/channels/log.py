"""The development provider: logs that a push would go out, without its words."""

import logging
import uuid

from app.outbox.channels import PushMessage, PushOutcome

log = logging.getLogger("tend.push")


class LogProvider:
    name = "log"
    max_batch = 100

    def send(self, messages: list[PushMessage]) -> list[PushOutcome]:
        for message in messages:
            log.info("push (log provider)", extra={"device_id": message.device_id})
        return [PushOutcome(accepted=True, ticket=f"log-{uuid.uuid4()}") for _ in messages]

    def receipts(self, tickets: list[str]) -> dict[str, PushOutcome]:
        return {t: PushOutcome(accepted=True) for t in tickets}
