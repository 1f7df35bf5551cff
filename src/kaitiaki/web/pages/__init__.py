"""Server-rendered pages (Jinja2); they read through the same functions as the API, and their
forms and buttons call the API from ``static/js/app.js``."""

from starlette.routing import BaseRoute

from kaitiaki.web.pages import account, operation, people, provider, received

ROUTES: list[BaseRoute] = [
    r for m in (account, operation, people, provider, received) for r in m.router.routes
]

__all__ = ["ROUTES"]
