"""Signing in and out: the council's account (OpenID Connect, app/auth/oidc.py) and the
password form (its own signed CSRF cookie, as there is no session yet, and the throttle
on guessing), each ending in the same server-side session cookie."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.auth.oidc import CouncilSignIn, SignInFailed, SignInRefused, sign_in_with_identity
from app.auth.service import authenticate, record_failed_sign_in, record_sign_in
from app.auth.throttle import SignInLocked
from app.events import Actor
from app.services import Services
from app.web.deps import FormDep, PageError, ServicesDep, redirect, render
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
log = logging.getLogger(__name__)

GENERIC_LOGIN_ERROR = "Enter a correct email address and password"
PASSWORDS_OFF = "Sign in with your council account: carewatch does not use its own passwords here"
COUNCIL_SIGN_IN_FAILED = (
    "Signing in with your council account did not work. Try again; if it keeps failing,"
    " tell your IT service desk"
)
PROVIDER_UNREACHABLE = (
    "carewatch could not reach your council's sign-in service. Wait a minute, then try again"
)
# The failed password sign-in's actor: nobody is known yet.
PASSWORD_FORM = Actor(label="sign-in:password")
NEXT_KEY = "carewatch_next"  # where to go after the provider sends the person back
MAX_EMAIL = 254
MAX_PASSWORD = 200  # as app/auth/service.py allows


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def council_sign_in(request: Request) -> CouncilSignIn | None:
    client: CouncilSignIn | None = getattr(request.app.state, "council_sign_in", None)
    return client


def _login_page(
    request: Request,
    services: Services,
    *,
    email: str = "",
    error: str = "",
    status: int = 200,
    next_path: str | None = None,
    about: str = "email",
) -> HTMLResponse:
    csrf_value, cookie = codec(services).new_login_csrf()
    password_login = services.settings.password_login
    response = render(
        request,
        "login.html",
        {
            "email": email,
            "error": error,
            # The error summary links to the field it is about, or to the council button.
            "error_target": about if password_login else "council-sign-in",
            "login_csrf": csrf_value,
            "next": _safe_next(next_path or request.query_params.get("next")),
            "council_sign_in": council_sign_in(request) is not None,
            "password_login": password_login,
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
    if not services.settings.password_login:
        return _login_page(
            request, services, error=PASSWORDS_OFF, status=403, about="council-sign-in"
        )
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
        await _record_failure(services, method="password", reason="locked", actor=PASSWORD_FORM)
        page = _login_page(request, services, email=email, error=locked.message, status=429)
        page.headers["Retry-After"] = str(locked.retry_after)
        return page
    if user is None:
        await _record_failure(
            services, method="password", reason="wrong_credentials", actor=PASSWORD_FORM
        )
        return _login_page(request, services, email=email, error=GENERIC_LOGIN_ERROR, status=400)
    async with services.database.transaction() as session:
        user = await session.merge(user)
        assert user.id is not None
        await record_sign_in(
            session, user, method="password", actor=Actor.user(user.id), now=services.clock.now()
        )
        cookie_value, max_age = await start_session(session, services, user)
    return _signed_in(request, cookie_value, max_age, str(form.get("next") or ""))


def _signed_in(request: Request, cookie_value: str, max_age: int, next_path: str) -> Response:
    response = redirect(_safe_next(next_path))
    set_cookie(request, response, SESSION_COOKIE, cookie_value, max_age=max_age)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


async def _record_failure(
    services: Services, *, method: str, reason: str, actor: Actor, user_id: int | None = None
) -> None:
    async with services.database.transaction() as session:
        await record_failed_sign_in(
            session,
            method=method,
            reason=reason,
            actor=actor,
            now=services.clock.now(),
            user_id=user_id,
        )


@router.get("/login/oidc")
async def council_sign_in_start(request: Request, services: ServicesDep) -> Response:
    """Off to the council's provider; it sends the person back to the callback below."""
    client = council_sign_in(request)
    if client is None:
        raise PageError(404, "Page not found", "Sign-in with a council account is not set up.")
    request.session[NEXT_KEY] = _safe_next(request.query_params.get("next"))
    redirect_uri = services.settings.base_url.rstrip("/") + "/login/oidc/callback"
    try:
        return await client.start(request, redirect_uri)
    except SignInFailed as failed:
        log.warning("council sign-in could not start: %s", failed.reason)
        return _login_page(
            request, services, error=PROVIDER_UNREACHABLE, status=503, about="council-sign-in"
        )


@router.get("/login/oidc/callback")
async def council_sign_in_callback(request: Request, services: ServicesDep) -> Response:
    client = council_sign_in(request)
    if client is None:
        raise PageError(404, "Page not found", "Sign-in with a council account is not set up.")
    next_path = str(request.session.pop(NEXT_KEY, "/"))
    try:
        claims = await client.finish(request)
    except SignInFailed as failed:
        # The reason is a code (a bad audience, an expired token): safe to log and keep.
        log.warning("council sign-in refused: %s", failed.reason)
        await _record_failure(services, method="oidc", reason=failed.reason, actor=client.actor)
        unreachable = failed.reason == "provider_unreachable"
        return _login_page(
            request,
            services,
            error=PROVIDER_UNREACHABLE if unreachable else COUNCIL_SIGN_IN_FAILED,
            status=503 if unreachable else 400,
            next_path=next_path,
            about="council-sign-in",
        )
    role = client.role_from(claims)
    try:
        async with services.database.transaction() as session:
            signed = await sign_in_with_identity(
                session,
                issuer=client.issuer,
                claims=claims,
                role=role,
                actor=client.actor,
                now=services.clock.now(),
            )
            cookie_value, max_age = await start_session(session, services, signed.user)
    except SignInRefused as refused:
        await _record_failure(
            services,
            method="oidc",
            reason=refused.reason,
            actor=client.actor,
            user_id=refused.user_id,
        )
        return _refused_page(request, services, refused.reason)
    return _signed_in(request, cookie_value, max_age, next_path)


def _refused_page(request: Request, services: Services, reason: str) -> HTMLResponse:
    """Whom to ask, in words: the person's account is fine, carewatch's door is not open."""
    contact = services.settings.oidc_access_contact
    if reason == "deactivated":
        title = "Your carewatch account is switched off"
        paragraphs = [
            "Your council account signed you in, but your carewatch account has been switched off.",
            f"If you still need carewatch, ask {contact} to switch it back on.",
        ]
    elif reason == "email_held_by_another_account":
        title = "You already have a carewatch account"
        paragraphs = [
            "A carewatch account with your email address was set up before sign-in"
            " through the council's account, so carewatch cannot tell they are both you.",
            f"Ask {contact} to connect your council account to it.",
        ]
    elif reason == "no_email":
        title = "Your council account has no email address"
        paragraphs = [
            "carewatch needs the email address of your council account to set you up.",
            "Ask your IT service desk to add one, then sign in again.",
        ]
    else:
        title = "You do not have access to carewatch yet"
        paragraphs = [
            "Your council account signed you in, but it has not been given a carewatch role"
            " (such as contract officer or manager).",
            f"Ask {contact} to give you a role. Once they have, sign in again.",
        ]
    return render(
        request, "login_refused.html", {"title": title, "paragraphs": paragraphs}, status=403
    )


@router.post("/logout")
async def logout(request: Request, services: ServicesDep, _form: FormDep) -> Response:
    await end_session(request, services)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
