import uuid

from fastapi import APIRouter, Response, status

from app.accounts.dependencies import CurrentUser
from app.deps import ClockDep, SessionDep, SettingsDep
from app.errors import Invalid, problem_responses
from app.nudges import service
from app.nudges.schemas import (
    DeviceCreate,
    DevicePublic,
    NotificationPublic,
    NudgeSettingsPublic,
    NudgeSettingsUpdate,
)
from app.outbox.channels import webhook
from app.outbox.models import Device, Notification
from app.pagination import Page, PageParamsDep

router = APIRouter(prefix="/v1/me", tags=["nudges"])


def _device(device: Device) -> DevicePublic:
    return DevicePublic(
        id=device.id,
        provider=device.provider,
        platform=device.platform,
        created_at=device.created_at,
        last_seen_at=device.last_seen_at,
        enabled=device.disabled_at is None,
        disabled_reason=device.disabled_reason,
    )


def _notification(n: Notification) -> NotificationPublic:
    return NotificationPublic(
        id=n.id,
        kind=n.kind,
        title=n.title,
        body=n.body,
        data=dict(n.data or {}),
        created_at=n.created_at,
        due_at=n.due_at,
        read_at=n.read_at,
    )


@router.get(
    "/nudge-settings",
    operation_id="getNudgeSettings",
    summary="When and how you are nudged (times are in your time zone)",
    responses=problem_responses(401),
)
def get_nudge_settings(
    user: CurrentUser, session: SessionDep, clock: ClockDep
) -> NudgeSettingsPublic:
    return service.to_public(service.settings_of(session, user, clock.now()))


@router.put(
    "/nudge-settings",
    operation_id="replaceNudgeSettings",
    summary="Replace your nudge settings",
    responses=problem_responses(401),
)
def put_nudge_settings(
    body: NudgeSettingsUpdate, user: CurrentUser, session: SessionDep, clock: ClockDep
) -> NudgeSettingsPublic:
    return service.to_public(service.replace_settings(session, user, body, clock.now()))


@router.post(
    "/devices",
    status_code=status.HTTP_201_CREATED,
    operation_id="registerDevice",
    summary="Register a device for push (upsert by token: 200 when it was known)",
    responses={
        200: {"model": DevicePublic, "description": "A known token"},
        **problem_responses(401),
    },
)
def register_device(
    body: DeviceCreate,
    user: CurrentUser,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    response: Response,
) -> DevicePublic:
    if body.provider == "webhook" and not settings.webhook_allow_private:
        refused = webhook.refusal(body.token)
        if refused:
            raise Invalid(refused, field="token")
    device, created = service.register_device(session, user, body, clock.now())
    if not created:
        response.status_code = status.HTTP_200_OK
    return _device(device)


@router.get(
    "/devices",
    operation_id="listDevices",
    summary="Your devices",
    responses=problem_responses(401),
)
def list_devices(user: CurrentUser, session: SessionDep) -> list[DevicePublic]:
    return [_device(d) for d in service.devices_of(session, user)]


@router.delete(
    "/devices/{device_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="deleteDevice",
    summary="Stop pushing to a device",
    responses=problem_responses(401, 404),
)
def delete_device(device_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> None:
    service.delete_device(session, user, device_id)


@router.get(
    "/notifications",
    operation_id="listNotifications",
    summary="Your in-app inbox of nudges, newest first",
    responses=problem_responses(401),
)
def list_notifications(
    user: CurrentUser, session: SessionDep, clock: ClockDep, page: PageParamsDep
) -> Page[NotificationPublic]:
    rows, next_cursor = service.inbox(
        session, user, clock.now(), limit=page.limit, cursor=page.cursor
    )
    return Page[NotificationPublic](items=[_notification(n) for n in rows], next_cursor=next_cursor)


@router.post(
    "/notifications/{notification_id}/read",
    operation_id="markNotificationRead",
    summary="Mark a nudge as read",
    responses=problem_responses(401, 404),
)
def mark_notification_read(
    notification_id: uuid.UUID, user: CurrentUser, session: SessionDep, clock: ClockDep
) -> NotificationPublic:
    return _notification(service.mark_read(session, user, notification_id, clock.now()))
