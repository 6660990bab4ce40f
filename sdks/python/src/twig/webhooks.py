"""Verifying webhook deliveries: `X-Twig-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`.

Each `v1` is the hex HMAC-SHA256 of `"<t>.<raw body>"` under one of the endpoint's signing
secrets; during a secret rotation the server signs with both the new and the previous secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, List, Optional, Sequence, Tuple, Union

from ._exceptions import TwigError

__all__ = ["verify", "sign", "WebhookVerificationError", "SIGNATURE_HEADER"]

#: The request header carrying the signature.
SIGNATURE_HEADER = "X-Twig-Signature"


class WebhookVerificationError(TwigError):
    """The signature is missing, malformed, stale, or made with another secret."""


def _parse(header: str) -> Tuple[int, List[str]]:
    t: Optional[int] = None
    sigs: List[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                t = int(value)
            except ValueError:
                raise WebhookVerificationError(f"Malformed timestamp in the signature header: {value!r}") from None
        elif key == "v1":
            sigs.append(value)
    if t is None:
        raise WebhookVerificationError("The signature header has no timestamp (t=...)")
    if not sigs:
        raise WebhookVerificationError("The signature header has no v1 signature")
    return t, sigs


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex `v1` signature of `payload` at `timestamp` under `secret` (for tests and tools)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return mac.hexdigest()


def verify(
    payload: Union[bytes, str],
    signature_header: Optional[str],
    secret: Union[str, Sequence[str]],
    tolerance: int = 300,
) -> Any:
    """Checks a delivery and returns its decoded JSON body.

    `payload` is the raw request body exactly as received; `secret` one signing secret or
    several (the new and the old one while you roll a rotation out). Raises
    `WebhookVerificationError` unless some `v1` matches some secret and the timestamp is
    within `tolerance` seconds of now (`tolerance=0` skips the age check).
    """
    if not signature_header:
        raise WebhookVerificationError(f"Missing {SIGNATURE_HEADER} header")
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    t, sigs = _parse(signature_header)
    if tolerance and abs(time.time() - t) > tolerance:
        raise WebhookVerificationError(f"Signature timestamp {t} is outside the tolerance of {tolerance}s")
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets or not all(secrets):
        raise WebhookVerificationError("No signing secret given")
    expected = [sign(body, s, t) for s in secrets]
    if not any(hmac.compare_digest(e, s) for e in expected for s in sigs):
        raise WebhookVerificationError("No signature matches the signing secret")
    try:
        return json.loads(body)
    except ValueError as e:
        raise WebhookVerificationError(f"The payload is not JSON: {e}") from None
