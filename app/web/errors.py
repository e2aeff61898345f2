"""Errors a browser meets, as pages in the service's own look with a way back: a page that
does not exist, a method or a body the service does not take, too many requests, a fault.
The JSON API keeps its JSON answers (app/api/errors.py asks `error_page` first and uses
its own answer when this returns None): so does any client that asks for JSON."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from app.web.deps import LoginRequired, PageError, render

# (title, what to do), in the words of the GOV.UK error page patterns.
PAGES: dict[int, tuple[str, tuple[str, ...]]] = {
    400: (
        "There is a problem with what was sent",
        ("The service could not read the form or address it was given.", "Go back and try again."),
    ),
    401: (
        "You need to sign in",
        ("This address needs a sign-in or a token.",),
    ),
    403: (
        "You cannot do this",
        ("Your role does not allow this page.",),
    ),
    404: (
        "Page not found",
        (
            "If you typed the web address, check it is correct.",
            "If you pasted the web address, check you copied the entire address.",
        ),
    ),
    405: (
        "This page cannot do that",
        (
            "The address does not take this kind of request.",
            "Go back to the page you came from and use its links and buttons.",
        ),
    ),
    413: (
        "What you sent is too large",
        ("Go back, shorten what you typed and try again.",),
    ),
    429: (
        "Too many requests",
        ("Wait a few minutes and try again.",),
    ),
    500: (
        "Sorry, there is a problem with the service",
        ("Try again later.", "Nothing you sent was saved unless a page told you it was."),
    ),
    503: (
        "Sorry, the service is unavailable",
        ("Try again in a few moments.", "Nothing you sent was saved."),
    ),
}


def _quality(accept: str, media_type: str) -> float:
    """The q-value the Accept header gives this exact media type (0 when not listed)."""
    best = 0.0
    for item in accept.split(","):
        name, *params = (part.strip() for part in item.split(";"))
        if name.lower() != media_type:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        best = max(best, quality)
    return best


def wants_page(request: Request) -> bool:
    """A browser, or anyone else not calling the API and not asking for JSON."""
    if request.url.path.startswith("/api/"):
        return False
    accept = request.headers.get("accept", "")
    as_json = _quality(accept, "application/json")
    return not (as_json > 0 and as_json >= _quality(accept, "text/html"))


def error_page(request: Request, status: int) -> Response | None:
    """The page for this error, or None when the request wants the API's JSON."""
    if not wants_page(request):
        return None
    fallback = 500 if status >= 500 else 400
    title, paragraphs = PAGES.get(status, PAGES[fallback])
    return render(request, "error.html", {"title": title, "paragraphs": paragraphs}, status=status)


def install_page_errors(app: FastAPI) -> None:
    """The pages' own exceptions: to the sign-in form, or an error page."""

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, error: LoginRequired) -> Response:
        return RedirectResponse("/login?" + urlencode({"next": error.next_path}), status_code=303)

    @app.exception_handler(PageError)
    async def page_error(request: Request, error: PageError) -> Response:
        return render(
            request,
            "error.html",
            {"title": error.title, "paragraphs": (error.message,)},
            status=error.status,
        )
