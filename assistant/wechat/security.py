"""Checks that run before anything in a callback is parsed: body size, signature, clock skew,
and the one narrow extraction (the base64 ``<Encrypt>`` value) a message signature covers."""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections import OrderedDict

from fastapi import HTTPException, Request

MAX_BODY_BYTES = 64 * 1024  # a WeChat callback is a few KB even with the longest text message
MAX_CLOCK_SKEW_S = 300

_DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
# The only thing read from a body before its signature is checked: a run of base64 characters.
_ENCRYPT = re.compile(
    rb"<Encrypt>\s*(?:<!\[CDATA\[([A-Za-z0-9+/=]+)\]\]>|([A-Za-z0-9+/=]+))\s*</Encrypt>"
)


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: sha1 of the parts sorted and concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature_ok(given: str | None, *parts: str) -> bool:
    """Constant-time comparison of ``given`` with the signature of ``parts``."""
    if not given:
        return False
    return hmac.compare_digest(sha1_signature(*parts).encode(), given.strip().lower().encode())


def fresh(timestamp: str | None, now: float | None = None) -> bool:
    """True when ``timestamp`` (unix seconds) is within ``MAX_CLOCK_SKEW_S`` of now."""
    if not timestamp or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    now = time.time() if now is None else now
    return abs(now - int(timestamp)) <= MAX_CLOCK_SKEW_S


async def read_capped(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, or 413 as soon as it is known to be longer than ``limit``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, "body too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, "body too large")
    return bytes(body)


def has_dtd(data: bytes | str) -> bool:
    """DOCTYPE or ENTITY declarations have no place in a WeChat message (XXE, entity bombs)."""
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
    return _DTD.search(raw) is not None


def extract_encrypt(body: bytes) -> str | None:
    """The single ``<Encrypt>`` value of an encrypted callback, or None if there is not exactly one."""
    found = _ENCRYPT.findall(body)
    if len(found) != 1:
        return None
    cdata, bare = found[0]
    return (cdata or bare).decode("ascii")


class ReplayGuard:
    """Remembers each (timestamp, nonce) pair with a digest of the message it carried, for as
    long as that timestamp passes ``fresh()``. The URL signature covers only the pair, so in
    plain mode a captured URL could otherwise carry any message for 300 s: the same pair with a
    different message is refused. The same message again (WeChat's own retry) passes, and the
    dispatcher's MsgId dedup answers it once. In memory, per process: a restart forgets."""

    def __init__(self, max_pairs: int = 100_000, clock=time.time):
        self.max_pairs = max_pairs
        self._clock = clock
        self._seen: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, timestamp: str, nonce: str, message: str) -> bool:
        """False when the pair was seen with another message within the freshness window."""
        digest = hashlib.sha256(message.encode("utf-8", "replace")).hexdigest()
        now = self._clock()
        with self._lock:
            while self._seen and next(iter(self._seen.values()))[1] < now:
                self._seen.popitem(last=False)  # the oldest entries expire first
            key = (timestamp, nonce)
            seen = self._seen.get(key)
            if seen is not None:
                return hmac.compare_digest(seen[0], digest)
            # a timestamp passes fresh() until it is MAX_CLOCK_SKEW_S in the past
            expires = max(now, float(int(timestamp))) + MAX_CLOCK_SKEW_S + 1
            self._seen[key] = (digest, expires)
            if len(self._seen) > self.max_pairs:
                self._seen.popitem(last=False)
            return True
