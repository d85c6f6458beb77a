"""ASGI middleware that guards every request: rate limits and security headers.

Both are plain ASGI (no ``BaseHTTPMiddleware``): they run on every request, including the
cheapest cached answers, and must cost microseconds.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag_chatbot.api.errors import error_response
from rag_chatbot.auth.service import AuthService
from rag_chatbot.observability.metrics import record_rate_limited
from rag_chatbot.ratelimit import RateLimiter, scope_of

# The reader and admin pages load their scripts and styles from /static only: no inline code,
# so an injected <script> or on*= attribute in a document cannot run.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)
# FastAPI's /docs and /redoc pages use an inline script and assets from jsDelivr. They are
# served outside production only; in production every HTML page gets PAGE_CSP.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; frame-ancestors 'none'; "
    "object-src 'none'"
)
_DOCS_PATHS = ("/docs", "/redoc")
_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """nosniff, frame and referrer policy on every response; CSP on HTML pages.

    ``docs_pages``: /docs and /redoc are served, and get DOCS_CSP (never in production).
    """

    def __init__(self, app: ASGIApp, docs_pages: bool = False) -> None:
        self.app = app
        self.docs_pages = docs_pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = self.docs_pages and scope["path"].startswith(_DOCS_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in _COMMON if h[0] not in present]
                content_type = dict(headers).get(b"content-type", b"")
                if (
                    content_type.startswith(b"text/html")
                    and b"content-security-policy" not in present
                ):
                    csp = DOCS_CSP if docs else PAGE_CSP
                    headers.append((b"content-security-policy", csp.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RateLimits:
    """Counts each request against its budget (see ``ratelimit.scope_of``) per IP and user.

    The user is read from a correctly signed bearer token without the revocation look-up (that
    is the route's business); the operator's ``ADMIN_TOKEN`` counts as user ``admin``. Limited
    responses carry ``X-RateLimit-*`` headers; refusals are 429 ``RATE_LIMIT_EXCEEDED`` with
    ``Retry-After``.
    """

    def __init__(
        self, app: ASGIApp, limiter: RateLimiter, auth: AuthService, admin_token: str | None
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.auth = auth
        self.admin_token = admin_token.encode() if admin_token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        budget = scope_of(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if budget is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        identities = [f"ip:{client[0] if client else 'unknown'}"]
        user = self._user(scope)
        if user:
            identities.append(f"user:{user}")
        decision = await self.limiter.check(budget, identities)
        if not decision.allowed:
            record_rate_limited(budget)
            response = error_response(
                429,
                f"too many requests ({budget}); retry in {decision.reset_after} s",
                "RATE_LIMIT_EXCEEDED",
            )
            response.raw_headers.extend(decision.headers())
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *decision.headers()]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _user(self, scope: Scope) -> str | None:
        for name, value in scope.get("headers") or []:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                token = token.strip()
                if scheme.lower() != b"bearer" or not token:
                    return None
                if self.admin_token and hmac.compare_digest(token, self.admin_token):
                    return "admin"
                return self.auth.unverified_subject(token.decode("latin-1"))
        return None
