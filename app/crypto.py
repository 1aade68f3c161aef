"""Encryption of personal data at rest: AES-256-GCM with a key per person, that key wrapped
by the key-encryption key (KEK) from ``TEND_DATA_KEY``.

- A sealed value is ``nonce (12 bytes) || ciphertext || tag``; its associated data binds it
  to one person and one field, so a value copied to another person's row or another field
  does not open.
- A wrapped person key carries the id of the KEK that wrapped it (the first 8 bytes of the
  KEK's SHA-256, in hex), so that during a rotation keys wrapped by the previous KEK still
  open until ``tend rotate-data-key`` has rewrapped them all.
- Values are padded to a multiple of ``PAD`` bytes before sealing: the length of a sealed
  value does not tell one setting from another.
"""

import base64
import binascii
import hashlib
import os
import uuid
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12
PAD = 256


class Undecryptable(Exception):
    """A sealed value that this key cannot open: the wrong person, field or key, or tampered."""


def key_id(kek: bytes) -> str:
    return hashlib.sha256(kek).hexdigest()[:16]


def parse_key(text: str) -> bytes:
    """A KEK as configured: 32 bytes in URL-safe or standard base64 (44 characters)."""
    cleaned = text.strip()
    try:
        raw = base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ValueError(
            "a data key is 32 random bytes in base64 (generate one with: python -c "
            '"import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())")'
        )
    return raw


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _aad(user_id: uuid.UUID, purpose: str) -> bytes:
    return f"tend:{user_id}:{purpose}".encode()


def seal(key: bytes, plaintext: bytes, *, user_id: uuid.UUID, field: str) -> bytes:
    padded = plaintext + b"\x80" + b"\x00" * (-(len(plaintext) + 1) % PAD)
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, padded, _aad(user_id, field))


def open_sealed(key: bytes, sealed: bytes, *, user_id: uuid.UUID, field: str) -> bytes:
    nonce, body = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    try:
        padded = AESGCM(key).decrypt(nonce, body, _aad(user_id, field))
    except (InvalidTag, ValueError) as exc:
        raise Undecryptable(field) from exc
    return padded[: padded.rindex(b"\x80")]


@dataclass(frozen=True)
class Keyring:
    """The current KEK, which wraps new and rotated keys, and the previous ones, which
    still unwrap keys until a rotation has rewrapped them."""

    current: bytes
    previous: tuple[bytes, ...] = ()
    _by_id: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for kek in (self.current, *self.previous):
            self._by_id[key_id(kek)] = kek

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    def wrap(self, person_key: bytes, user_id: uuid.UUID) -> tuple[str, bytes]:
        return self.current_id, seal(self.current, person_key, user_id=user_id, field="key")

    def unwrap(self, kek_id: str, wrapped: bytes, user_id: uuid.UUID) -> bytes:
        kek = self._by_id.get(kek_id)
        if kek is None:
            raise Undecryptable(f"no data key with id {kek_id} is configured")
        return open_sealed(kek, wrapped, user_id=user_id, field="key")
