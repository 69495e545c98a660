"""The console's settings (prefix `CONSOLE_`): where the owning services answer, how long
a session lasts, and the facts the indicators need that no topic carries."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.config import ENV_FILE, KEYS_DIR, ServiceSettings

ID_TOKEN_ALGORITHMS = {
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "EdDSA",
}
"""The asymmetric signatures an ID token may be pinned to (never `none` or an HMAC)."""
ASSETS = Path(__file__).resolve().parents[2] / "node_modules"
"""The front-end packages `make setup` installs with npm (services/console/package.json)."""


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", env_file=ENV_FILE, extra="ignore")

    port: int = 8005
    public_url: str = ""
    """Where people reach the console (sign-in links, OIDC redirect); default
    `http://127.0.0.1:<port>`."""
    notify_url: str = "http://127.0.0.1:8003"
    marac_url: str = "http://127.0.0.1:8004"
    perpetrators_url: str = "http://127.0.0.1:8006"
    records_url: str = "http://127.0.0.1:8007"
    triage_url: str = "http://127.0.0.1:8002"
    page_size: int = Field(default=100, ge=1, le=500)
    """How many records each page of a list shows (the services' `limit`)."""
    allowed_hosts: list[str] = Field(default_factory=list)
    """Host names the console answers to in production, besides CONSOLE_PUBLIC_URL's."""
    upstream_timeout_seconds: float = Field(default=10, gt=0)
    session_minutes: int = Field(default=480, ge=1, le=24 * 60)
    """A session ends this long after sign-in, whatever happens meanwhile."""
    timezone: str = "Europe/London"
    """Where the months of the dashboard begin and end."""
    adult_female_population: dict[str, int] = Field(default_factory=dict)
    """Each area's adult female population (JSON), for MARAC cases per 10,000 women."""
    assets_dir: Path = ASSETS
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_algorithms: list[str] = Field(default_factory=lambda: ["RS256"])
    """The ID token's signature algorithms, pinned here (never taken from the provider)."""
    oidc_starts_per_minute: int = Field(default=20, ge=1)
    """Sign-ins each client may start a minute (each start stores a pending request)."""
    signing_key_file: Path | None = None
    """The console's own private key for its upstream tokens (issuer `MASH_CONSOLE_ISSUER`);
    default: `console.ed25519` beside `MASH_CONSOLE_JWKS_FILE`, its public half that the
    services hold (`.data/keys/` under `make setup`)."""
    oidc_scope_claim: str = "mash_scopes"
    """The ID token / userinfo claim holding the hub's scopes (a list or a space-separated
    string)."""

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in ID_TOKEN_ALGORITHMS]
        if unknown or not value:
            raise ValueError(f"ID token algorithms must be among {sorted(ID_TOKEN_ALGORITHMS)}")
        return value

    @model_validator(mode="after")
    def _https_in_production(self) -> Settings:
        # the Secure flag, the `__Host-` cookie prefix and HSTS all depend on it
        if self.hub.env == "production" and not self.base_url.startswith("https://"):
            raise ValueError("CONSOLE_PUBLIC_URL must be an https:// address in production")
        return self

    @property
    def signing_key_path(self) -> Path:
        public = self.hub.console_jwks_file
        keys = public.parent if public else self.hub.data_dir / KEYS_DIR
        return self.signing_key_file or keys / "console.ed25519"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://127.0.0.1:{self.port}").rstrip("/")

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over HTTPS, except on loopback during development and tests."""
        return self.base_url.startswith("https://")
