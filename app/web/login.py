"""Signing in and out: the login form (its own signed CSRF cookie, as there is no session
yet), the throttle on guessing, and the session cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.auth.service import authenticate
from app.auth.throttle import SignInLocked
from app.services import Services
from app.web.deps import FormDep, ServicesDep, redirect, render
from app.web.sessions import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    codec,
    current_session,
    end_session,
    set_cookie,
    start_session,
)

router = APIRouter(include_in_schema=False)

GENERIC_LOGIN_ERROR = "Enter a correct email address and password"
MAX_EMAIL = 254
MAX_PASSWORD = 200  # as app/auth/service.py allows


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _login_page(
    request: Request, services: Services, *, email: str = "", error: str = "", status: int = 200
) -> HTMLResponse:
    csrf_value, cookie = codec(services).new_login_csrf()
    response = render(
        request,
        "login.html",
        {
            "email": email,
            "error": error,
            "login_csrf": csrf_value,
            "next": _safe_next(request.query_params.get("next")),
        },
        status=status,
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, cookie, max_age=3600)
    return response


@router.get("/login")
async def login_page(request: Request, services: ServicesDep) -> Response:
    if await current_session(request, services) is not None:
        return redirect("/")
    return _login_page(request, services)


@router.post("/login")
async def login(request: Request, services: ServicesDep) -> Response:
    form = await request.form()
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    if not codec(services).login_csrf_matches(
        request.cookies.get(LOGIN_CSRF_COOKIE), str(form.get(CSRF_FIELD) or "")
    ):
        return _login_page(
            request,
            services,
            email=email,
            error="Your sign-in form expired. Enter your details again.",
            status=403,
        )
    # Longer than any account's can be: refused whole, never cut to fit.
    if not email or not password or len(email) > MAX_EMAIL or len(password) > MAX_PASSWORD:
        return _login_page(request, services, email=email, error=GENERIC_LOGIN_ERROR, status=400)
    address = request.client.host if request.client else "unknown"
    # The password check (argon2, deliberately slow) runs outside the write transaction.
    try:
        async with services.database.sessions() as session:
            user = await request.app.state.login_throttle.guard(
                email, address, lambda: authenticate(session, email, password)
            )
    except SignInLocked as locked:
        page = _login_page(request, services, email=email, error=locked.message, status=429)
        page.headers["Retry-After"] = str(locked.retry_after)
        return page
    if user is None:
        return _login_page(request, services, email=email, error=GENERIC_LOGIN_ERROR, status=400)
    async with services.database.transaction() as session:
        user = await session.merge(user)
        cookie_value, max_age = await start_session(session, services, user)
    response = redirect(_safe_next(str(form.get("next") or "")))
    set_cookie(request, response, SESSION_COOKIE, cookie_value, max_age=max_age)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, services: ServicesDep, _form: FormDep) -> Response:
    await end_session(request, services)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
