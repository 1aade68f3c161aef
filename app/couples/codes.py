"""Invite codes: 8 characters of Crockford base32 (40 bits), forgiving when typed."""

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8
# Crockford's decoding rules: letters that look like digits read as those digits.
_TYPED = str.maketrans({"I": "1", "L": "1", "O": "0"})


def new_code(length: int = CODE_LENGTH) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def normalize(typed: str, length: int = CODE_LENGTH) -> str | None:
    """The canonical code for what a person typed, or None if it cannot be one."""
    code = typed.upper().replace("-", "").replace(" ", "").translate(_TYPED)
    if len(code) != length or any(ch not in ALPHABET for ch in code):
        return None
    return code
