"""Settings: one prefix per service, every address overridable by environment.

The platform values every service shares (Kafka, the signing secret, the pseudonym
key) carry the `MASH_` prefix; a service's own values carry its own prefix
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


class PlatformSettings(BaseSettings):
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
    jwt_secret: str = DEVELOPMENT_SECRET
    jwt_issuer: str = "mash"
    pseudonym_key: str = DEVELOPMENT_SECRET
    data_dir: Path = DATA_DIR

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_development(self) -> PlatformSettings:
        if self.env != "development":
            for name in ("jwt_secret", "pseudonym_key"):
                if getattr(self, name) == DEVELOPMENT_SECRET:
                    raise ValueError(f"MASH_{name.upper()} must be set outside development")
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
    platform: PlatformSettings = Field(default_factory=PlatformSettings)

    def sqlite_default(self, service: str) -> str:
        """The embedded default: one SQLite file per service under `.data/`."""
        self.platform.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{self.platform.data_dir / f'{service}.db'}"
