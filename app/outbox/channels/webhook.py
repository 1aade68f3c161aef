"""Webhook push for servers: the device token is an https URL that receives a JSON POST.

A webhook URL is chosen by a user, so it must not reach inside Tend's own network:
loopback, private, link-local (169.254.169.254, the cloud metadata service), shared and
reserved addresses are refused when the device is registered and again at every send.
At send time the host is resolved once, every address checked, and the POST goes to the
checked address (with the original Host header and TLS server name), so a DNS answer that
changes between the check and the connection (DNS rebinding) cannot slip past.
TEND_WEBHOOK_ALLOW_PRIVATE=true lifts the check for development and tests.
"""

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from app.outbox.channels import PushMessage, PushOutcome
from app.outbox.channels.expo import retry_after_seconds

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host``."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _forbidden(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def _host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL with a host")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def refusal(url: str, resolve: Resolver = system_resolver) -> str | None:
    """Why a webhook URL may not be used, or None. A name that does not resolve now is
    let through here: it is resolved and checked again at every send."""
    try:
        host, port = _host_and_port(url)
    except ValueError as exc:
        return str(exc)
    if host == "localhost" or host.endswith(".localhost"):
        return "a webhook may not point at this server's own network (localhost)"
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in resolve(host, port)]
        except OSError:
            return None
    bad = [str(a) for a in addresses if _forbidden(a)]
    if bad:
        return (
            f"a webhook may not point at a loopback, private, link-local or reserved address "
            f"({host} is {', '.join(bad)})"
        )
    return None


class WebhookProvider:
    name = "webhook"
    max_batch = 100

    def __init__(
        self,
        timeout: float = 10.0,
        *,
        allow_private: bool = False,
        resolve: Resolver = system_resolver,
    ) -> None:
        self._client = httpx.Client(timeout=timeout)
        self._allow_private = allow_private
        self._resolve = resolve

    def close(self) -> None:
        self._client.close()

    def _pinned(self, url: str) -> tuple[httpx.URL, dict[str, str], dict[str, str]] | str:
        """The URL with its host replaced by a checked address, the Host header and the
        TLS server name to send with it; or why it is refused."""
        host, port = _host_and_port(url)
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            try:
                found = [ipaddress.ip_address(a.split("%")[0]) for a in self._resolve(host, port)]
            except OSError as exc:
                raise httpx.ConnectError(f"cannot resolve {host}: {exc}") from exc
            if not found:
                raise httpx.ConnectError(f"cannot resolve {host}") from None
            if not self._allow_private and any(_forbidden(a) for a in found):
                return "refused: the webhook's host resolves to a non-public address"
            address = found[0]
        if not self._allow_private and _forbidden(address):
            return "refused: the webhook points at a non-public address"
        original = httpx.URL(url)
        return (
            original.copy_with(host=str(address)),
            {"Host": original.netloc.decode("ascii")},
            {"sni_hostname": host},
        )

    def _send_one(self, message: PushMessage) -> PushOutcome:
        try:
            pinned = self._pinned(message.token)
        except ValueError:
            return PushOutcome(accepted=False, error="not an http(s) URL")
        except httpx.HTTPError as exc:
            return PushOutcome(accepted=False, retryable=True, error=exc.__class__.__name__)
        if isinstance(pinned, str):
            return PushOutcome(accepted=False, error=pinned)
        url, headers, extensions = pinned
        try:
            response = self._client.post(
                url,
                json={"title": message.title, "body": message.body, "data": message.data},
                headers=headers,
                extensions=extensions,
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
