"""Bearer tokens (JWT): verified signature, expiry, issuer and audience.

Production identity providers publish keys at a JWKS URL (RS256/ES256/PS256) and only that is configured. For
development a local shared secret (HS256) signs the tokens ``dipflow token`` mints; beside a development identity
provider (Keycloak, ``make run``) both are configured. Each algorithm has its one key source (HS256 only the secret,
with the development issuer; the others only the JWKS, with the provider's issuer), so a token cannot choose
its own key; without a secret, HS256 is refused.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dipflow.auth.principal import Principal, Role

DEV_ALGORITHM = "HS256"
DEV_ISSUER = "dipflow-dev"
JWKS_ALGORITHMS = ["RS256", "ES256", "PS256"]


class InvalidToken(Exception):
    """The token is missing, malformed, expired, wrongly signed or not meant for us."""


class AuthSettings(BaseSettings):
    """Shared by all services (one identity provider): ``DIPFLOW_AUTH_*``."""

    model_config = SettingsConfigDict(env_prefix="DIPFLOW_AUTH_", extra="ignore", frozen=True)

    issuer: str = Field(
        default=DEV_ISSUER,
        description="The identity provider's issuer (with a JWKS URL); development tokens are always dipflow-dev",
    )
    audience: str = "dipflow"
    jwks_url: str | None = Field(default=None, description="Production: the identity provider's JWKS")
    dev_secret: SecretStr | None = Field(
        default=None, description="Development: HS256 shared secret (at least 32 characters)"
    )
    leeway_s: int = Field(default=30, ge=0, le=300)
    public_api_docs: bool = Field(
        default=False,
        description="Serve /openapi.json, /docs and /redoc without a token (development; `make run` sets it)",
    )

    @model_validator(mode="after")
    def _one_key_source(self) -> AuthSettings:
        if self.dev_secret is not None and len(self.dev_secret.get_secret_value()) < 32:
            raise ValueError("DIPFLOW_AUTH_DEV_SECRET must be at least 32 characters")
        return self


class TokenVerifier:
    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True) if settings.jwks_url else None

    def verify(self, token: str) -> Principal:
        try:
            secret = self.settings.dev_secret
            development = secret is not None and jwt.get_unverified_header(token).get("alg") == DEV_ALGORITHM
            if development and secret is not None:
                key: Any = secret.get_secret_value()
                algorithms = [DEV_ALGORITHM]
                issuer = self.settings.issuer if self._jwks is None else DEV_ISSUER
            elif self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = JWKS_ALGORITHMS
                issuer = self.settings.issuer
            elif secret is not None:
                raise InvalidToken(
                    f"the token is not valid: it is not signed with {DEV_ALGORITHM}, the development algorithm"
                )
            else:
                raise InvalidToken("no signing key is configured (DIPFLOW_AUTH_JWKS_URL or _DEV_SECRET)")
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.settings.audience,
                issuer=issuer,
                leeway=self.settings.leeway_s,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("the token is not meant for this audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("the token comes from an unknown issuer") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken("the token signature does not verify") from exc
        except (jwt.PyJWTError, ValueError) as exc:
            raise InvalidToken(f"the token is not valid: {exc}") from exc
        return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    try:
        role = Role(str(claims.get("role")))
    except ValueError as exc:
        raise InvalidToken("the token names no known role") from exc
    area = claims.get("area")
    if not isinstance(area, str) or not area:
        raise InvalidToken("the token names no area")
    worker_id = claims.get("worker_id")
    if role is Role.referral_worker and not worker_id:
        raise InvalidToken("a referral worker's token must carry worker_id")
    return Principal(
        subject=str(claims["sub"]),
        role=role,
        area=area,
        worker_id=str(worker_id) if worker_id else None,
        token_id=claims.get("jti"),
    )


def mint_token(
    secret: str,
    *,
    subject: str,
    role: Role | str,
    area: str,
    worker_id: str | None = None,
    issuer: str = "dipflow-dev",
    audience: str = "dipflow",
    ttl_s: int = 8 * 3600,
    now: float | None = None,
) -> str:
    """A development token signed with the local secret (never used with a production identity provider)."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "role": str(Role(role)),
        "area": area,
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "exp": issued + ttl_s,
        "jti": str(uuid.uuid4()),
    }
    if worker_id:
        claims["worker_id"] = worker_id
    return jwt.encode(claims, secret, algorithm=DEV_ALGORITHM)
