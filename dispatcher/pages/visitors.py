"""Pages for visitors at sites without dedicated devices: the kiosk (touch) and the waiting-room display.

They run in any browser logged in with a kiosk or display account; the
site is the account's (the sites file's first one by default). The kiosk is
plain HTML forms (no script needed); the display follows the counter's own
SSE stream of calls.
"""

from __future__ import annotations

from aiohttp import web

from dispatcher.counter.service import IssueRefused
from dispatcher.counter.tickets import SeriesFull
from dispatcher.http import keys as http_keys
from dispatcher.http.kiosk import wait_text
from dispatcher.http.problems import Problem
from dispatcher.pages.i18n import gettext_of, language_of
from dispatcher.pages.render import page
from dispatcher.store.live import OUTAGE_ERRORS


def _site(request: web.Request) -> str:
    counter = http_keys.counter_of(request)
    return next(iter(counter.sites.sites))


async def kiosk(request: web.Request) -> web.Response:
    """Domains then processes, as big touch buttons."""
    counter = http_keys.counter_of(request)
    menu = counter.menu(_site(request), language_of(request))
    return await page(request, "kiosk.html", {"menu": menu, "ticket": None, "error": None})


async def kiosk_ticket(request: web.Request) -> web.Response:
    """Issue the ticket chosen on the kiosk page, and show it."""
    counter = http_keys.counter_of(request)
    site = _site(request)
    form = await request.post()
    process = str(form.get("process", ""))
    menu = counter.menu(site, language_of(request))
    tr = gettext_of(request)
    try:
        ticket = await counter.issue(site, process)
    except IssueRefused as exc:
        return await page(request, "kiosk.html", {"menu": menu, "ticket": None, "error": exc.reason}, status=exc.status)
    except SeriesFull:
        raise Problem(409, "series-full", "plus de numéro de ticket disponible aujourd'hui") from None
    except OUTAGE_ERRORS:
        error = tr.gettext("The kiosk cannot issue tickets right now: please ask at the desk.")
        return await page(request, "kiosk.html", {"menu": menu, "ticket": None, "error": error}, status=503)
    return await page(request, "kiosk.html", {
        "menu": menu, "error": None, "ticket": ticket,
        "wait": wait_text(ticket.estimated_wait_s, language_of(request)),
    })


async def display(request: web.Request) -> web.Response:
    """The waiting-room screen: the latest calls, live."""
    counter = http_keys.counter_of(request)
    site = _site(request)
    return await page(request, "display.html", {"state": counter.state_frame(site),
                                                "site_label": counter.sites.sites[site].label})
