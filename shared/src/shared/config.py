"""Settings: one prefix per service, every address overridable by environment.

The platform values every service shares (Kafka, the token issuers' public keys, the
pseudonym key) carry the `MASH_` prefix; a service's own values carry its own prefix
(`INTAKE_`, `TRIAGE_`, ...). Values come from the environment first, then from the
`.env` file at the repository root that `make setup` writes with fresh secrets.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def repository_root() -> Path:
    """The checkout this code runs from (`MASH_HOME` overrides)."""
    if home := os.environ.get("MASH_HOME"):
        return Path(home).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "Makefile").exists() and (parent / "services").is_dir():
            return parent
    return Path.cwd()


ROOT = repository_root()
ENV_FILE = ROOT / ".env"
DATA_DIR = ROOT / ".data"
DEVELOPMENT_SECRET = "development-only-secret-change-me"  # noqa: S105
KEYS_DIR = "keys"
"""Under `data_dir`: the development issuer's key pair and the console's (`make setup`)."""
DAY = 24 * 3600


class HubSettings(BaseSettings):
    """What every service shares: broker, secrets, environment."""

    model_config = SettingsConfigDict(env_prefix="MASH_", env_file=ENV_FILE, extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    kafka_bootstrap: str = "127.0.0.1:9092"
    # Kafka security (contract section 8), the one source every client of the project uses
    kafka_security_protocol: Literal["SASL_SSL", "SASL_PLAINTEXT", "PLAINTEXT"] = "SASL_SSL"
    kafka_security_dir: Path = DATA_DIR / "kafka-security"
    """CA, broker certificate and generated passwords, created by `make setup`."""
    kafka_username: str = ""
    """Empty: each client's own principal (a service's name, `admin` for set-up)."""
    kafka_password: str = ""
    """Empty: the principal's generated password from `kafka_security_dir`."""
    kafka_ca_file: Path | None = None
    """Empty: `kafka_security_dir`/ca.pem."""
    # tokens (contract section 2): services hold public keys only
    jwt_issuer: str = "mash"
    """The `iss` of people's tokens: the force's identity provider in production."""
    jwks_url: str = ""
    """The issuer's JWKS URL (production: the identity provider's)."""
    jwks_file: Path | None = None
    """The issuer's JWKS file; default `data_dir/keys/jwks.json` outside production."""
    signing_key_file: Path | None = None
    """Tools only (`mash token`, `mash console-link`): the development issuer's private key;
    default `data_dir/keys/dev.ed25519`. No service reads it."""
    token_max_seconds: int = Field(default=DAY, gt=0, le=DAY)
    """The longest `exp - iat` this service accepts: 24 hours, or less where configured."""
    console_issuer: str = "mash-console"
    """The `iss` of the console's two-minute upstream tokens."""
    console_jwks_file: Path | None = None
    """The console's public keys; default `data_dir/keys/console.jwks.json` outside
    production, where unset means no console token is accepted."""
    pseudonym_key: str = DEVELOPMENT_SECRET
    data_dir: Path = DATA_DIR
    trace_sql: bool = False
    """A span per SQL statement (`MASH_TRACE_SQL=true`), for debugging only: off by default,
    as those spans were 10 to 34% of a consumer's event-loop time (docs/speed.md)."""

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_development(self) -> HubSettings:
        if self.env != "development" and self.pseudonym_key == DEVELOPMENT_SECRET:
            raise ValueError("MASH_PSEUDONYM_KEY must be set outside development")
        if self.env == "production":
            if not (self.jwks_url or self.jwks_file):
                raise ValueError("MASH_JWKS_URL (or MASH_JWKS_FILE) must be set in production")
        else:
            keys = self.data_dir / KEYS_DIR
            if not self.jwks_url and self.jwks_file is None:
                self.jwks_file = keys / "jwks.json"
            if self.console_jwks_file is None:
                self.console_jwks_file = keys / "console.jwks.json"
            if self.signing_key_file is None:
                self.signing_key_file = keys / "dev.ed25519"
        return self


class ServiceSettings(BaseSettings):
    """Base for each service's Settings; subclasses set `env_prefix`."""

    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = ""
    migrations_database_url: str = ""
    """Who migrations run as, when the service itself connects as a role that may not
    alter its tables (records: insert and read only); empty: `database_url`."""
    consumer_group: str = ""
    consumer_offset_reset: Literal["earliest", "latest"] = "earliest"
    """Where a new consumer group starts: `earliest` so nothing published is ever skipped."""
    outbox_poll_seconds: float = 0.2
    max_attempts: int = Field(default=3, description="handler attempts before dead-lettering")
    hub: HubSettings = Field(default_factory=HubSettings)

    def sqlite_default(self, service: str) -> str:
        """The embedded default: one SQLite file per service under `.data/`."""
        self.hub.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{self.hub.data_dir / f'{service}.db'}"
