"""The citizen's tracking page: the status of a request by its code, and nothing personal."""

from __future__ import annotations

import re
import time
from typing import Any

from aiohttp import web
from sqlalchemy import select

from dispatcher.history.models import ContactRow
from dispatcher.http import keys as http_keys
from dispatcher.http.kiosk import wait_text
from dispatcher.pages.keys import ACCOUNTS
from dispatcher.pages.render import page
from dispatcher.pages.i18n import language_of

CODE = re.compile(r"^[A-Za-z0-9._-]{3,64}$")


async def lookup(request: web.Request, code: str) -> dict[str, Any] | None:
    """Where the request ``code`` stands: waiting (position, estimate), in hand, or its outcome."""
    router = request.app[http_keys.DISPATCHER].router
    catalogue = request.app[http_keys.CATALOGUE]
    contact = router.contacts.get(code)
    if contact is not None:
        process = catalogue.processes.get(contact.process)
        found: dict[str, Any] = {"process": process.label if process else contact.process,
                                 "channel": contact.channel.value, "status": contact.state.value}
        if contact.state.value == "waiting":
            found["position"] = router.position(code)
            found["wait"] = wait_text(router.estimated_wait(contact.process, contact.channel, time.time()),
                                      language_of(request))
        if contact.deadline is not None:
            found["deadline"] = contact.deadline
        return found
    outcome = router.ended.get(code)
    engine = request.app[ACCOUNTS].engine
    async with engine.connect() as conn:
        row = (await conn.execute(
            select(ContactRow.process, ContactRow.channel, ContactRow.outcome, ContactRow.ended_at)
            .where(ContactRow.contact_id == code)
        )).first()
    if row is None:
        return None
    process = catalogue.processes.get(row.process or "")
    status = outcome.value if outcome is not None else row.outcome or "waiting"
    return {"process": process.label if process else row.process, "channel": row.channel, "status": status}


async def tracking(request: web.Request) -> web.Response:
    """``/track?code=...``: the form, and the status of the code given."""
    code = request.query.get("code", "").strip()
    found = None
    status = 200
    if code:
        if CODE.match(code):
            found = await lookup(request, code)
        if found is None:
            status = 404
    return await page(request, "tracking.html", {"code": code, "found": found}, status=status)
