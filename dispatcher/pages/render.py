"""Rendering a page: the Jinja2 environment, the request's language, its CSRF token and person."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import get_session

from dispatcher.pages.i18n import LANGUAGES, language_of, translations
from dispatcher.pages.keys import SESSIONS
from dispatcher.people.sessions import CSRF_FIELD, csrf_token

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"

HOME_OF_ROLE = {
    "agent": "/agent",
    "supervisor": "/wallboard",
    "admin": "/wallboard",
    "planner": "/planner",
    "kiosk": "/kiosk",
    "display": "/display",
}


ENVIRONMENTS = {lang: web.AppKey(f"jinja2_{lang}", jinja2.Environment) for lang in LANGUAGES}
"""One Jinja2 environment per language, its catalogue installed (newstyle gettext)."""


def setup_templates(app: web.Application) -> None:
    """Jinja2 with autoescaping and the i18n extension, once per language."""
    for lang, key in ENVIRONMENTS.items():
        env = aiohttp_jinja2.setup(
            app,
            app_key=key,
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=jinja2.select_autoescape(default=True),
            extensions=["jinja2.ext.i18n"],
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]


async def page(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    """Render ``template`` in the request's language, with its CSRF token and the person."""
    lang = language_of(request)
    session = await get_session(request)
    person = await request.app[SESSIONS].person(request)
    full = {
        "lang": lang,
        "languages": LANGUAGES,
        "csrf_field": CSRF_FIELD,
        "csrf": csrf_token(session),
        "person": person,
        "home_of_role": HOME_OF_ROLE,
        "path": request.path,
        **context,
    }
    response = aiohttp_jinja2.render_template(template, request, full, status=status, app_key=ENVIRONMENTS[lang])
    response.headers["Content-Language"] = lang
    response.headers["Cache-Control"] = "no-store"
    return response
