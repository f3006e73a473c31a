"""Route ids that prove their contract (docs/ROUTING.md "How a decision is
stored"): 12 random bytes and the first 12 bytes of an HMAC-SHA256 of the
contract id and those bytes, keyed from SECRET_KEY, in URL-safe base64 (32
characters). A call's ``route_id`` is checked against its contract without
the decision's row, which a spooled decision may not have yet. Ids that do
not verify (ids from before, or minted under another SECRET_KEY) are
looked up among the stored decisions instead."""

import base64
import binascii
import hashlib
import hmac
import secrets
from functools import cache

from django.conf import settings

_RANDOM = 12
_MAC = 12


@cache
def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"outcome-ledger route id", hashlib.sha256).digest()


def _mac(contract_id: int, nonce: bytes) -> bytes:
    message = contract_id.to_bytes(8, "big", signed=True) + nonce
    return hmac.new(_key(settings.SECRET_KEY), message, hashlib.sha256).digest()[:_MAC]


def route_id_new(contract_id: int) -> str:
    nonce = secrets.token_bytes(_RANDOM)
    return base64.urlsafe_b64encode(nonce + _mac(contract_id, nonce)).decode()


def route_id_verifies(contract_id: int, route_id: str) -> bool:
    """Whether ``route_id`` was minted for this contract under this SECRET_KEY."""
    if len(route_id) != 32:
        return False
    try:
        raw = base64.urlsafe_b64decode(route_id)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(raw[_RANDOM:], _mac(contract_id, raw[:_RANDOM]))
