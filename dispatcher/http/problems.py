"""Refusals as RFC 9457 ``application/problem+json``; unexpected errors as a 500 with an id.

A handler refuses by raising ``Problem``; the middleware of ``app.py`` turns
it, aiohttp's own HTTP errors (404, 405, 413...) and pydantic's validation
errors into a problem document. Anything else is logged with a fresh error id
and answered 500 with that id: no traceback ever reaches a client.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import ValidationError

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
TYPE_BASE = "https://guichet.example/problems/"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field of a request: its JSON pointer-like path and why."""

    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


class Problem(Exception):
    """A refusal: status, a short kind (``invalid-body``), a human detail, the faulty fields."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        errors: Sequence[FieldError] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.errors = tuple(errors)
        self.headers = headers or {}

    def document(self, instance: str | None = None) -> dict[str, Any]:
        """The RFC 9457 body."""
        doc: dict[str, Any] = {
            "type": TYPE_BASE + self.kind,
            "title": TITLES.get(self.status, "Erreur"),
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            doc["instance"] = instance
        if self.errors:
            doc["errors"] = [e.as_dict() for e in self.errors]
        return doc

    def response(self, instance: str | None = None) -> web.Response:
        return web.Response(
            status=self.status,
            text=json.dumps(self.document(instance), ensure_ascii=False),
            content_type=PROBLEM_TYPE,
            headers=self.headers,
        )


TITLES: dict[int, str] = {
    400: "Requête invalide",
    401: "Authentification requise",
    403: "Accès refusé",
    404: "Introuvable",
    405: "Méthode non permise",
    409: "Conflit",
    413: "Requête trop volumineuse",
    415: "Type de contenu non pris en charge",
    422: "Requête non traitable",
    500: "Erreur interne",
    503: "Service indisponible",
}


def from_validation(exc: ValidationError, where: str = "body") -> Problem:
    """A 422 naming each invalid field (``body.process``) and pydantic's reason."""
    errors = [
        FieldError(".".join([where, *(str(p) for p in err["loc"])]), err["msg"]) for err in exc.errors()
    ]
    first = errors[0] if errors else FieldError(where, "invalid")
    return Problem(422, "invalid-field", f"{first.field}: {first.reason}", errors)


def from_http_error(exc: web.HTTPException) -> Problem:
    """aiohttp's own refusals (no such path, wrong method, body too large) as problems."""
    kinds = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}
    details = {
        404: "aucune ressource à cette adresse",
        405: "méthode non permise pour cette ressource",
        413: "corps de requête trop volumineux",
    }
    detail = details.get(exc.status, exc.reason)
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return Problem(exc.status, kinds.get(exc.status, "http-error"), detail, headers=headers)


def log_error(request: web.Request, exc: BaseException) -> str:
    """Log ``exc`` with its traceback under a new error id; return the id."""
    error_id = uuid.uuid4().hex[:12]
    log.error("error %s on %s %s", error_id, request.method, request.path, exc_info=exc)
    return error_id


def internal_error(request: web.Request, exc: BaseException) -> web.Response:
    """Log ``exc`` with a new error id; answer 500 with that id only."""
    error_id = log_error(request, exc)
    problem = Problem(500, "internal-error", f"erreur interne, identifiant {error_id}")
    response = problem.response(request.path)
    body = problem.document(request.path)
    body["error_id"] = error_id
    response.text = json.dumps(body, ensure_ascii=False)
    return response
