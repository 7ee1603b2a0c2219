"""Memory per worker: a budget for what requests hold, and an allocator that gives memory back.

The work limit counted requests, not bytes: 16 large PNGs at once took a
worker to 3.9 GB, and 64 photo uploads left ~880 MB held after the burst.
Two measures:

- :class:`MemoryBudget`: each request reserves what it will hold (its body,
  and for an image the decoded pixels, from the header) before it holds it;
  a request that does not fit waits briefly for others to finish, then gets
  503; one that could never fit gets 413.
- :func:`tune_allocator`: glibc's dynamic mmap threshold climbs after large
  frees, so later large buffers come from the heap and stay with the process;
  a fixed threshold and few arenas keep large buffers in mmap (returned on
  free). :func:`give_back` trims the heap after a large request.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
from typing import Optional

M_MMAP_THRESHOLD = -3  # glibc mallopt parameters (malloc.h)
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 256 * 1024
ARENA_MAX = 2
TRIM_AFTER_BYTES = 8 << 20  # a request that held this much trims the heap afterwards


def _glibc() -> Optional[ctypes.CDLL]:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_LIBC = _glibc()


def tune_allocator() -> bool:
    """Fixes glibc's mmap threshold and arena count in this process; False elsewhere (musl, macOS)."""
    if _LIBC is None:
        return False
    return bool(_LIBC.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        _LIBC.mallopt(M_ARENA_MAX, ARENA_MAX)
    )


def give_back(held_bytes: int) -> None:
    """Returns freed heap to the system after a request that held ``held_bytes``."""
    if _LIBC is not None and held_bytes >= TRIM_AFTER_BYTES:
        _LIBC.malloc_trim(0)


class OverBudget(Exception):
    """A request needs more than the whole budget (413) or did not get it in time (503)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class MemoryBudget:
    """Bytes the requests of one worker may hold at once (used from the event loop only).

    Args:
        total: the budget in bytes.
        wait_s: how long a request waits for room before 503.
    """

    def __init__(self, total: int, wait_s: float = 5.0):
        self.total = total
        self.wait_s = wait_s
        self.used = 0
        self._freed: Optional[asyncio.Condition] = None

    def _condition(self) -> asyncio.Condition:
        if self._freed is None:  # made in the running loop, not at import
            self._freed = asyncio.Condition()
        return self._freed

    async def acquire(self, n: int, what: str) -> None:
        """Reserves ``n`` bytes for ``what``, waiting up to ``wait_s``.

        Raises:
            OverBudget: 413 when ``n`` exceeds the whole budget, 503 when no room came in time.
        """
        if n > self.total:
            raise OverBudget(
                413, f"{what} needs {n >> 20} MB; this server allows {self.total >> 20} MB per request"
            )
        freed = self._condition()
        async with freed:
            try:
                await asyncio.wait_for(freed.wait_for(lambda: self.used + n <= self.total), self.wait_s)
            except asyncio.TimeoutError:
                raise OverBudget(503, "busy: the memory budget is in use; retry shortly") from None
            self.used += n

    async def release(self, n: int) -> None:
        freed = self._condition()
        async with freed:
            self.used -= n
            freed.notify_all()

    @contextlib.asynccontextmanager
    async def reserved(self, n: int, what: str):
        """``async with budget.reserved(n, what):`` holds ``n`` bytes for the block."""
        await self.acquire(n, what)
        try:
            yield
        finally:
            await self.release(n)
