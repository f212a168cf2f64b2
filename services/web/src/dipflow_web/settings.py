"""Settings of the web app, read from ``DIPFLOW_WEB_*`` (sign-in uses the shared ``DIPFLOW_AUTH_*``)."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The services the pages call, by the name used in the proxy path ``/api/{name}/v1/...``.
SERVICE_NAMES = ("custody", "referral", "ppo-register", "breach")


def _default_vendor_dir() -> Path:
    """``services/web/node_modules`` of this checkout (``make install`` runs ``npm ci`` there)."""
    return Path(__file__).resolve().parents[2] / "node_modules"


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIPFLOW_WEB_", extra="ignore", frozen=True)

    custody_url: str = "http://127.0.0.1:8001"
    referral_url: str = "http://127.0.0.1:8002"
    ppo_register_url: str = "http://127.0.0.1:8003"
    breach_url: str = "http://127.0.0.1:8004"
    cookie_secure: bool = Field(
        default=False, description="Mark the session cookie Secure (set true wherever the pages are on HTTPS)"
    )
    node_modules: Path = Field(
        default_factory=_default_vendor_dir, description="Where npm installed chart.js (services/web)"
    )
    upstream_timeout_s: float = Field(default=30.0, gt=0)
    oidc_issuer: str | None = Field(
        default=None,
        description="The OpenID Connect provider people sign in with (authorization code + PKCE); its issuer URL",
    )
    oidc_client_id: str = Field(
        default="dipflow-web", description="This app's (public) client at the provider"
    )
    token_sign_in: bool | None = Field(
        default=None,
        description="Offer pasting a token on the sign-in page (development); by default only without a provider",
    )
    login_secret: SecretStr = Field(
        default_factory=lambda: SecretStr(secrets.token_urlsafe(32)),
        description="Signs the short-lived sign-in cookie (state and PKCE verifier); set one for several replicas",
    )
    log_level: str = "INFO"
    log_json: bool = True

    @property
    def pastes_tokens(self) -> bool:
        """Whether the sign-in page offers pasting a token: asked for, or no provider to sign in with."""
        return self.token_sign_in if self.token_sign_in is not None else self.oidc_issuer is None

    def service_urls(self) -> dict[str, str]:
        urls = (self.custody_url, self.referral_url, self.ppo_register_url, self.breach_url)
        return {name: url.rstrip("/") for name, url in zip(SERVICE_NAMES, urls, strict=True)}
