"""THE route table: every endpoint of the server, its handler, its roles, its description.

Add an endpoint here and nowhere else: the guard checks its roles, the
OpenAPI document describes it, and a test checks both for every line.
"""

from __future__ import annotations

from dispatcher.http import desk, display, kiosk, meta
from dispatcher.http.roles import Role
from dispatcher.http.route import Answer, Route, roles
from dispatcher.pages.routes import ROUTES as PAGE_ROUTES

API = "/api/v1"
KIOSK = roles(Role.KIOSK)
DISPLAY = roles(Role.DISPLAY)
DESK = roles(Role.COUNTER_AGENT)
STREAM_TOKEN = {"token": "the device token, for clients that cannot set a header (WebSocket, EventSource)"}

ROUTES: list[Route] = [
    Route("GET", f"{API}/openapi.json", meta.openapi_json, roles(Role.PUBLIC),
          "Description OpenAPI 3.1 de l'API", "meta"),
    Route("GET", f"{API}/health", meta.health, roles(Role.PUBLIC),
          "État du serveur (sans donnée personnelle)", "meta", answer=meta.Health),
    # kiosks
    Route("GET", f"{API}/kiosk/menu", kiosk.kiosk_menu, KIOSK,
          "Domaines, démarches et classes de priorité de la borne", "kiosk", answer=kiosk.Menu,
          refusals=(422, 503), query={"lang": "fr (default) or en"}),
    Route("POST", f"{API}/kiosk/tickets", kiosk.issue_ticket, KIOSK,
          "Délivrer un ticket (numéro, position, attente estimée, impression)", "kiosk",
          body=kiosk.TicketRequest, answer=kiosk.TicketAnswer, refusals=(409, 503)),
    Route("GET", f"{API}/kiosk/ws", kiosk.kiosk_socket, KIOSK,
          "WebSocket de borne : trames {type: menu|issue}", "kiosk", answer_kind=Answer.WEBSOCKET,
          query=STREAM_TOKEN,
          description='Send `{"type": "issue", "process": "passport", "id": 1}`; the answer is '
          '`{"type": "ticket", ...TicketAnswer, "id": 1}` or `{"type": "problem", "problem": <RFC 9457 document>}`. '
          "A frame that is not JSON closes the socket with code 1007 and the reason."),
    # displays
    Route("GET", f"{API}/display/ws", display.display_socket, DISPLAY,
          "WebSocket d'écran d'appel : l'état puis chaque appel du site", "display",
          answer_kind=Answer.WEBSOCKET, query=STREAM_TOKEN),
    Route("GET", f"{API}/display/events", display.display_events, DISPLAY,
          "Flux SSE d'écran d'appel : l'état puis chaque appel du site", "display",
          answer_kind=Answer.SSE, query=STREAM_TOKEN),
    Route("GET", f"{API}/display/state", display.display_state, DISPLAY,
          "L'état de l'écran d'appel (les derniers appels)", "display"),
    # counter agents
    Route("GET", f"{API}/desk", desk.desk_state, DESK, "Mon guichet", "desk", answer=desk.DeskState),
    Route("POST", f"{API}/desk/open", desk.desk_open, DESK, "Ouvrir un guichet", "desk",
          body=desk.OpenCounter, answer=desk.DeskState, refusals=(409,)),
    Route("POST", f"{API}/desk/close", desk.desk_close, DESK, "Fermer mon guichet", "desk",
          answer=desk.DeskState, refusals=(409,)),
    Route("POST", f"{API}/desk/ready", desk.desk_ready, DESK, "Prêt (« appel suivant »)", "desk",
          answer=desk.DeskState, refusals=(409,)),
    Route("POST", f"{API}/desk/answer", desk.desk_answer, DESK, "Prendre le visiteur proposé", "desk",
          answer=desk.DeskState, refusals=(409,)),
    Route("POST", f"{API}/desk/recall", desk.desk_recall, DESK, "Rappeler le visiteur", "desk",
          answer=desk.DeskState, refusals=(409,)),
    Route("POST", f"{API}/desk/no-show", desk.desk_no_show, DESK, "Visiteur absent", "desk",
          answer=desk.DeskState, refusals=(409,)),
    Route("POST", f"{API}/desk/done", desk.desk_done, DESK, "Visiteur servi (puis post-traitement)", "desk",
          answer=desk.DeskState, refusals=(409,)),
    Route("POST", f"{API}/desk/requalify", desk.desk_requalify, DESK, "Requalifier la démarche du visiteur",
          "desk", body=desk.Requalify, answer=desk.DeskState, refusals=(409,)),
    Route("POST", f"{API}/desk/transfer", desk.desk_transfer, DESK, "Transférer le visiteur à un agent nommé",
          "desk", body=desk.Transfer, answer=desk.DeskState, refusals=(409,)),
    *PAGE_ROUTES,
]
