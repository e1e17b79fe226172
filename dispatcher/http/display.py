"""Waiting-room displays: the site's calls by WebSocket or by SSE, the current state first.

A display that connects (or reconnects) gets its site's state at once (the
last calls), then every call of the site as it happens. A display that does
not read falls behind its bounded queue and is closed with a reason; no other
display waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, WSMsgType, web

from dispatcher.counter.service import CounterService, DisplayFeed
from dispatcher.http.keys import counter_of
from dispatcher.http.problems import Problem
from dispatcher.http.route import principal_of

HEARTBEAT_S = 15.0
SEND_TIMEOUT_S = 5.0
SLOW = "display too slow: frames dropped, reconnect"


def _site(request: web.Request) -> str:
    site = principal_of(request).site
    if site is None:
        raise Problem(403, "no-site", "cet appareil n'a pas de site")
    return site


@contextlib.asynccontextmanager
async def _feed(counter: CounterService, site: str) -> AsyncIterator[DisplayFeed]:
    feed = counter.subscribe(site)
    try:
        yield feed
    finally:
        counter.unsubscribe(feed)


async def _next(feed: DisplayFeed) -> tuple[str, str] | None:
    """The next frame (type, JSON text), a heartbeat (None) after a quiet while."""
    if not feed.queue.empty():
        return feed.queue.get_nowait()
    try:
        async with asyncio.timeout(HEARTBEAT_S):
            return await feed.queue.get()
    except TimeoutError:
        return None


async def display_socket(request: web.Request) -> web.WebSocketResponse:
    """The site's calls as JSON frames: ``state`` first, then ``call`` frames."""
    counter = counter_of(request)
    site = _site(request)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=4096)
    await ws.prepare(request)
    async with _feed(counter, site) as feed:
        reader = asyncio.create_task(_drain_incoming(ws))
        try:
            while not ws.closed and not reader.done():
                if feed.queue.empty():
                    getter = asyncio.ensure_future(_next(feed))
                    await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():
                        getter.cancel()
                        break
                    frame = getter.result()
                else:
                    frame = feed.queue.get_nowait()
                if feed.dropped:
                    await _close(ws, WSCloseCode.POLICY_VIOLATION, SLOW)
                    break
                if frame is None:
                    continue
                if frame[0] == "bye":
                    await _close(ws, WSCloseCode.GOING_AWAY, "server stopping")
                    break
                try:
                    async with asyncio.timeout(SEND_TIMEOUT_S):
                        await ws.send_str(frame[1])
                except TimeoutError:
                    await _close(ws, WSCloseCode.POLICY_VIOLATION, SLOW)
                    break
                except ConnectionError:
                    break
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    return ws


async def _drain_incoming(ws: web.WebSocketResponse) -> None:
    """A display only listens: any data frame closes it with the reason."""
    async for msg in ws:
        if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            await _close(ws, WSCloseCode.UNSUPPORTED_DATA, "a display sends nothing")
            return


async def _close(ws: web.WebSocketResponse, code: int, reason: str) -> None:
    try:
        async with asyncio.timeout(1.0):
            await ws.close(code=code, message=reason.encode())
    except TimeoutError:
        pass


async def display_events(request: web.Request) -> web.StreamResponse:
    """The site's calls as Server-Sent Events (``state`` then ``call`` events), for a plain browser."""
    counter = counter_of(request)
    site = _site(request)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    async with _feed(counter, site) as feed:
        while True:
            frame = await _next(feed)
            if feed.dropped:
                with contextlib.suppress(ConnectionError):
                    await response.write(f"event: closed\ndata: {json.dumps({'reason': SLOW})}\n\n".encode())
                break
            try:
                async with asyncio.timeout(SEND_TIMEOUT_S):
                    if frame is None:
                        await response.write(b": keep-alive\n\n")
                    elif frame[0] == "bye":
                        break
                    else:
                        await response.write(f"event: {frame[0]}\ndata: {frame[1]}\n\n".encode())
            except (TimeoutError, ConnectionError):
                break
    return response


async def display_state(request: web.Request) -> web.Response:
    """The site's state once (the last calls): for a display that polls."""
    return web.json_response(counter_of(request).state_frame(_site(request)))
