"""The admission line on its own (app.admission.Admission): who goes in, in what order,
and who is refused at once. No database: the line lives on the event loop only; the
same rules against real servers and both databases are in tests/test_bursts.py."""

import asyncio
import uuid

import pytest

from app.admission import Admission, Limits, Refused

A, B = uuid.uuid4(), uuid.uuid4()


def limits(**overrides: float) -> Limits:
    values: dict[str, float] = {
        "in_flight": 1,
        "queue": 100,
        "account_in_flight": 100,
        "account_queue": 100,
        "wait_seconds": 30,
    }
    values.update(overrides)
    return Limits(**values)  # type: ignore[arg-type]


async def _queue(admission: Admission, key: uuid.UUID | None, order: list[str], name: str):
    await admission.enter(key)
    order.append(name)


def test_waiting_accounts_take_turns_so_a_burst_does_not_hold_back_another_account():
    async def scenario() -> list[str]:
        admission = Admission(limits())
        order: list[str] = []
        await _queue(admission, A, order, "A1")
        waiting = [asyncio.create_task(_queue(admission, A, order, f"A{i}")) for i in (2, 3, 4)]
        await asyncio.sleep(0)
        waiting.append(asyncio.create_task(_queue(admission, B, order, "B1")))
        await asyncio.sleep(0)
        assert admission.waiting == 4
        for _ in range(4):
            admission.leave(A if order[-1].startswith("A") else B, 0.01)
            await asyncio.sleep(0)
        await asyncio.gather(*waiting)
        return order

    # B's one request goes in at the next turn, not after all of A's burst.
    assert asyncio.run(scenario()) == ["A1", "A2", "B1", "A3", "A4"]


def test_an_account_at_its_share_waits_while_another_goes_in_at_once():
    async def scenario() -> None:
        admission = Admission(limits(in_flight=2, account_in_flight=1))
        await admission.enter(A)
        second = asyncio.create_task(admission.enter(A))
        await asyncio.sleep(0)
        assert not second.done() and admission.waiting == 1
        await asyncio.wait_for(admission.enter(B), 0.5)  # the free place, at once
        assert admission.inside == 2
        admission.leave(A, 0.01)
        await asyncio.wait_for(second, 0.5)
        assert admission.inside == 2 and admission.waiting == 0

    asyncio.run(scenario())


def test_beyond_the_line_503_and_beyond_an_accounts_share_429_at_once():
    async def scenario() -> None:
        admission = Admission(limits(queue=2, account_queue=1))
        await admission.enter(A)
        waiting = [asyncio.create_task(admission.enter(key)) for key in (A, B)]
        await asyncio.sleep(0)
        with pytest.raises(Refused) as too_many:
            await asyncio.wait_for(admission.enter(A), 0.5)
        assert too_many.value.status == 429 and too_many.value.retry_after >= 1
        with pytest.raises(Refused) as full:
            await asyncio.wait_for(admission.enter(uuid.uuid4()), 0.5)
        assert full.value.status == 503 and full.value.retry_after >= 1
        assert admission.waiting == 2
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        assert admission.waiting == 0

    asyncio.run(scenario())


def test_a_request_that_waited_too_long_is_refused_and_leaves_the_line():
    async def scenario() -> None:
        admission = Admission(limits(wait_seconds=0.05))
        await admission.enter(A)
        with pytest.raises(Refused) as waited:
            await admission.enter(B)
        assert waited.value.status == 503
        assert admission.waiting == 0 and admission.inside == 1
        admission.leave(A, 0.01)
        await asyncio.wait_for(admission.enter(B), 0.5)  # the place is free again
        assert admission.inside == 1

    asyncio.run(scenario())


def test_requests_without_an_account_share_one_turn_without_an_account_limit():
    async def scenario() -> None:
        admission = Admission(limits(in_flight=3, account_in_flight=1))
        for _ in range(3):
            await asyncio.wait_for(admission.enter(None), 0.5)
        assert admission.inside == 3

    asyncio.run(scenario())
