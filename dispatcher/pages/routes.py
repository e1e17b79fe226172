"""The pages' lines of the route table (``dispatcher.http.routes`` adds them to THE table)."""

from __future__ import annotations

from dispatcher.http.roles import Role
from dispatcher.http.route import Answer, Route, roles
from dispatcher.observe import endpoints
from dispatcher.pages import (
    agent,
    boards,
    login,
    planner,
    static_files,
    supervise,
    tracking,
    visitors,
)

SUPERVISION = roles(Role.SUPERVISOR, Role.ADMIN)
PLANNING = roles(Role.PLANNER, Role.ADMIN)

ROUTES: list[Route] = [
    Route("GET", "/", login.home, roles(Role.PUBLIC), "Accueil : la page du rôle, ou la connexion", "pages",
          answer_kind=Answer.HTML),
    Route("GET", "/login", login.login_form, roles(Role.PUBLIC), "Formulaire de connexion", "pages",
          answer_kind=Answer.HTML, query={"next": "page où revenir"}),
    Route("POST", "/login", login.login_submit, roles(Role.PUBLIC), "Connexion (formulaire, jeton CSRF)", "pages",
          answer_kind=Answer.HTML, refusals=(401, 403, 429)),
    Route("POST", "/logout", login.logout, roles(Role.PUBLIC), "Déconnexion", "pages", answer_kind=Answer.HTML,
          refusals=(403,)),
    Route("GET", "/lang/{lang}", login.switch_language, roles(Role.PUBLIC), "Choix de la langue (fr, en)", "pages",
          answer_kind=Answer.HTML, query={"next": "page où revenir"}, refusals=(404,)),
    Route("GET", "/static/{name}", static_files.static_file, roles(Role.PUBLIC), "Feuilles de style et scripts",
          "pages", answer_kind=Answer.BYTES, refusals=(404,)),
    Route("GET", "/wallboard", boards.wallboard, SUPERVISION, "Tableau de bord du superviseur", "pages",
          answer_kind=Answer.HTML),
    Route("GET", "/wallboard/events", boards.wallboard_events, SUPERVISION,
          "Tableau de bord en direct (SSE, aucune donnée personnelle)", "pages", answer_kind=Answer.SSE),
    Route("POST", "/wallboard/agents/{agent_id}/state", supervise.force_state, roles(Role.SUPERVISOR),
          "Le superviseur force l'état d'un agent : prêt, pause, déconnecté (audité)", "pages",
          body=supervise.ForcedState, answer=supervise.ForcedAnswer, refusals=(404, 409)),
    Route("GET", "/agent", agent.agent_page, roles(Role.AGENT), "Page de l'agent", "pages", answer_kind=Answer.HTML,
          refusals=(409,)),
    Route("GET", "/agent/events", agent.agent_events, roles(Role.AGENT), "Vue de l'agent en direct (SSE)", "pages",
          answer_kind=Answer.SSE, refusals=(409,)),
    Route("POST", "/agent/action", agent.agent_action, roles(Role.AGENT),
          "Action de l'agent sur lui-même (prêt, pause, fin, transfert, requalification, guichet)", "pages",
          body=agent.AgentAction, refusals=(409,)),
    Route("GET", "/kiosk", visitors.kiosk, roles(Role.KIOSK), "Borne tactile (sites sans borne dédiée)", "pages",
          answer_kind=Answer.HTML, refusals=(503,)),
    Route("POST", "/kiosk/ticket", visitors.kiosk_ticket, roles(Role.KIOSK), "Ticket pris sur la borne tactile",
          "pages", answer_kind=Answer.HTML, refusals=(409, 422, 503)),
    Route("GET", "/display", visitors.display, roles(Role.DISPLAY), "Écran d'appel (sites sans écran dédié)", "pages",
          answer_kind=Answer.HTML, refusals=(503,)),
    Route("GET", "/planner", planner.planner, PLANNING, "Page du planificateur", "pages", answer_kind=Answer.HTML),
    Route("POST", "/planner/jobs", planner.start_job, PLANNING,
          "Lancer un calcul (prévision et matrice en CSV : effectifs, simulation, et si)", "pages",
          answer_kind=Answer.HTML, refusals=(422,)),
    Route("GET", "/planner/jobs/{job_id}", planner.job_page, PLANNING, "Un calcul : progression, graphiques", "pages",
          answer_kind=Answer.HTML, refusals=(404,)),
    Route("GET", "/planner/jobs/{job_id}/status", planner.job_status, PLANNING, "Progression et résultat d'un calcul",
          "pages", refusals=(404,)),
    Route("GET", "/planner/jobs/{job_id}/csv", planner.job_csv, PLANNING, "Résultat d'un calcul en CSV (audité)",
          "pages", answer_kind=Answer.CSV, refusals=(404, 409)),
    Route("GET", "/track", tracking.tracking, roles(Role.PUBLIC),
          "Suivi d'une demande par son code (aucune donnée personnelle)", "pages", answer_kind=Answer.HTML,
          query={"code": "code de la demande"}, refusals=(404,)),
    Route("GET", "/metrics", endpoints.metrics, roles(Role.PUBLIC),
          "Métriques Prometheus (chiffres agrégés, aucune donnée personnelle)", "observability", answer_kind=Answer.TEXT),
    Route("GET", "/health/live", endpoints.health_live, roles(Role.PUBLIC), "Le processus répond", "observability"),
    Route("GET", "/health/ready", endpoints.health_ready, roles(Role.PUBLIC),
          "Prêt : AMI, Redis et SQL répondent (503 sinon, avec ce qui manque)", "observability", refusals=(503,)),
]
