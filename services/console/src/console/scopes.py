"""Which calls of the console's need the person's own access token: those whose scope no
console may pass on (`shared.auth.CONSOLE_NEVER`). A page may say the scope of its call
(`scope=` on `Upstream.call/page/every/json/stream`); otherwise the route's, below, so
a page written without knowing of it (the policy page, the subscriptions) still forwards
the person's own token rather than asking with a console token its service refuses."""

from __future__ import annotations

from shared.auth import console_may_delegate

ROUTE_SCOPES: dict[str, tuple[tuple[str, str], ...]] = {
    "records": (("/v1/records", "records:read"),),
    "triage": (("/v1/policy", "triage:policy"),),
    "notify": (("/v1/subscriptions", "subscriptions:write:*"),),
}
"""The routes (by path prefix) whose scope no console may pass on, by service: a call to
one forwards the person's own token even when its page does not say `scope=`.
`/v1/policy` covers `/v1/policy-trials` too."""


def scope_of(service: str, path: str, scope: str | None = None) -> str | None:
    """The scope a call needs, as far as the console must know: the one its page names,
    else the route's from `ROUTE_SCOPES` (None: a scope a console may pass on)."""
    if scope is not None:
        return scope
    for prefix, needed in ROUTE_SCOPES.get(service, ()):
        if path.startswith(prefix):
            return needed
    return None


def forwards(scope: str | None) -> bool:
    """Whether a call needing `scope` goes with the person's own token."""
    return scope is not None and not console_may_delegate(scope)
