"""The HTTP side: one aiohttp application for the JSON API, devices' WebSockets and SSE, and pages."""
