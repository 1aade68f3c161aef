"""Care phases over HTTP: a person's own settings and status, and the partner's one fact."""

from fastapi import APIRouter

from app.accounts.dependencies import CurrentPartner
from app.care import consent, service
from app.care.schemas import (
    CareDaysIn,
    CareSettingsIn,
    CareSettingsOut,
    CareStatusOut,
    ConsentTerms,
    CycleOut,
    PartnerCareOut,
    SteadyOut,
    WindowOut,
)
from app.couples.dependencies import CurrentCouple
from app.deps import ClockDep, KeysDep, SessionDep
from app.errors import problem_responses

me_router = APIRouter(prefix="/v1/me/care", tags=["care"])
couple_router = APIRouter(prefix="/v1/couple", tags=["care"])

TERMS = ConsentTerms(version=consent.VERSION, purpose=consent.PURPOSE, text=consent.TEXT)


def _out(care: service.Care | None) -> CareSettingsOut:
    if care is None:
        return CareSettingsOut(
            enabled=False,
            mode=None,
            share_with_partner=False,
            cycle=None,
            steady=None,
            marked_days=[],
            consented_at=None,
            consent_version=None,
            terms=TERMS,
        )
    return CareSettingsOut(
        enabled=True,
        mode=care.mode,
        share_with_partner=care.share_with_partner,
        cycle=CycleOut(**care.cycle.model_dump()) if care.cycle else None,
        steady=SteadyOut(**care.steady.model_dump()) if care.steady else None,
        marked_days=sorted(care.marked),
        consented_at=care.consented_at,
        consent_version=care.consent_version,
        terms=TERMS,
    )


@me_router.get(
    "",
    operation_id="getCare",
    summary="Your care settings (off by default) and what turning them on agrees to",
    responses=problem_responses(401, 403, 409),
)
def get_care(user: CurrentPartner, session: SessionDep, keys: KeysDep) -> CareSettingsOut:
    return _out(service.care_of(session, keys, user.id))


@me_router.put(
    "",
    operation_id="putCare",
    summary="Turn care on (your explicit consent), change it, or turn it off (deletes it all)",
    responses=problem_responses(401, 403, 409),
)
def put_care(
    data: CareSettingsIn, user: CurrentPartner, session: SessionDep, keys: KeysDep, clock: ClockDep
) -> CareSettingsOut:
    return _out(service.put_settings(session, keys, user, data, clock.now()))


@me_router.post(
    "/days",
    operation_id="markCareDays",
    summary="Mark care days by hand: 'I need a bit more care' (at most 14 days at once)",
    responses=problem_responses(401, 403, 409),
)
def mark_days(
    data: CareDaysIn, user: CurrentPartner, session: SessionDep, keys: KeysDep, clock: ClockDep
) -> CareSettingsOut:
    return _out(service.mark_days(session, keys, user, data, clock.now(), add=True))


@me_router.delete(
    "/days",
    operation_id="unmarkCareDays",
    summary="Take back days marked by hand (the same body as marking them)",
    responses=problem_responses(401, 403, 409),
)
def unmark_days(
    data: CareDaysIn, user: CurrentPartner, session: SessionDep, keys: KeysDep, clock: ClockDep
) -> CareSettingsOut:
    return _out(service.mark_days(session, keys, user, data, clock.now(), add=False))


@me_router.get(
    "/status",
    operation_id="getCareStatus",
    summary="Whether today is in your care window, that window (or the next) and the next start",
    responses=problem_responses(401, 403, 409),
)
def get_status(
    user: CurrentPartner, session: SessionDep, keys: KeysDep, clock: ClockDep
) -> CareStatusOut:
    state = service.status_of(service.care_of(session, keys, user.id), user.timezone, clock.now())
    window = state.window
    return CareStatusOut(
        in_window=state.in_window,
        window=WindowOut(start=window.start, end=window.end) if window else None,
        next_start=state.next_start,
    )


@couple_router.get(
    "/care",
    operation_id="getPartnerCare",
    summary="Whether your partner shares a gentle day now, and until when: nothing more",
    responses=problem_responses(401, 403, 404),
)
def get_partner_care(
    user: CurrentPartner, couple: CurrentCouple, session: SessionDep, keys: KeysDep, clock: ClockDep
) -> PartnerCareOut:
    gentle = service.partner_view(session, keys, user, clock.now())
    return PartnerCareOut(
        partner_in_care_window=gentle is not None, until=gentle.until if gentle else None
    )
