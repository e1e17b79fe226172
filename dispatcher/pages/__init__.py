"""The people's pages: server-rendered templates, French first, live over SSE."""
