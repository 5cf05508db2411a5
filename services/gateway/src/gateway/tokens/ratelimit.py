"""Failed sign-ins counted per username and per client address in a sliding window, so a password
guesser is slowed with 429 before the per-account lockout (PostgreSQL, 423) even comes into play,
and spraying many usernames from one address is caught too.

Kept in each gateway's memory: with N replicas an attacker gets at most N times the budget, while
the lockout, which is in the database, stays global. A success does not count.
"""

from __future__ import annotations

import math
import time
from collections import deque


class SlidingWindowLimiter:
    def __init__(self, limit: int, window_seconds: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits

    def retry_after(self, key: str) -> int | None:
        """Seconds until the next attempt is allowed, or None when it is allowed now."""
        now = time.monotonic()
        hits = self._recent(key, now)
        if hits is None or len(hits) < self.limit:
            return None
        return max(1, math.ceil(hits[0] + self.window - now))

    def hit(self, key: str) -> None:
        now = time.monotonic()
        hits = self._recent(key, now)
        if hits is None:
            if len(self._hits) >= self.max_keys:
                self._hits.pop(next(iter(self._hits)))  # the oldest key goes first
            hits = self._hits[key] = deque()
        hits.append(now)


class LoginLimiter:
    def __init__(self, *, per_username: int, per_address: int, window_seconds: float) -> None:
        self.usernames = SlidingWindowLimiter(per_username, window_seconds)
        self.addresses = SlidingWindowLimiter(per_address, window_seconds)
        self.window = window_seconds
        self._reported: dict[tuple[str, str], float] = {}

    def retry_after(self, username: str, address: str) -> int | None:
        """`address` empty: a local caller (the machine itself), limited per username only."""
        waits = [self.usernames.retry_after(username.lower())]
        if address:
            waits.append(self.addresses.retry_after(address))
        found = [wait for wait in waits if wait is not None]
        return max(found) if found else None

    def failed(self, username: str, address: str) -> None:
        self.usernames.hit(username.lower())
        if address:
            self.addresses.hit(address)

    def first_refusal(self, username: str, address: str) -> bool:
        """True for the first refusal of this key within a window (the one worth an audit row)."""
        now = time.monotonic()
        key = (username.lower(), address)
        if self._reported.get(key, 0.0) > now:
            return False
        if len(self._reported) > 10_000:
            self._reported = {k: v for k, v in self._reported.items() if v > now}
        self._reported[key] = now + self.window
        return True
