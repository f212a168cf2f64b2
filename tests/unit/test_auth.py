from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from typer.testing import CliRunner

from dipflow.auth import AuthSettings, InvalidToken, Principal, Role, TokenVerifier, mint_token
from dipflow.auth.principal import force_of
from dipflow.cli import app

SECRET = "unit-secret-" + "z" * 40
SETTINGS = AuthSettings(dev_secret=SECRET)


def test_a_force_covers_its_boroughs_and_only_them() -> None:
    met = Principal("s", Role.analyst, "metropolitan")
    assert met.covers("camden") and met.covers("metropolitan")
    assert not met.covers("birmingham")
    assert force_of("birmingham") == "west-midlands"


@given(st.sampled_from(["camden", "brent", "birmingham", "salford", "unknown-area"]))
def test_national_covers_everything_and_a_borough_only_itself(area: str) -> None:
    assert Principal("s", Role.admin, "*").covers(area)
    assert Principal("s", Role.analyst, "camden").covers(area) == (area == "camden")


def test_mint_and_verify_round_trip_for_every_role() -> None:
    verifier = TokenVerifier(SETTINGS)
    for role in Role:
        worker = "W1" if role is Role.referral_worker else None
        principal = verifier.verify(
            mint_token(SECRET, subject="u", role=role, area="camden", worker_id=worker)
        )
        assert (principal.role, principal.area, principal.worker_id) == (role, "camden", worker)


def test_a_short_dev_secret_is_refused() -> None:
    with pytest.raises(ValidationError):
        AuthSettings(dev_secret="short")


def test_no_key_configured_refuses_every_token() -> None:
    with pytest.raises(InvalidToken, match="no signing key"):
        TokenVerifier(AuthSettings()).verify(mint_token(SECRET, subject="u", role="admin", area="*"))


def test_token_cli_mints_a_token_the_services_accept(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIPFLOW_AUTH_DEV_SECRET", SECRET)
    result = CliRunner().invoke(
        app, ["token", "--role", "inspector", "--area", "camden", "--subject", "insp-1"]
    )
    assert result.exit_code == 0, result.output
    principal = TokenVerifier(SETTINGS).verify(result.output.strip())
    assert (principal.subject, principal.role) == ("insp-1", Role.inspector)
    refused = CliRunner().invoke(app, ["token", "--role", "referral_worker"])
    assert refused.exit_code != 0


def test_a_borough_token_is_of_its_forces_custody_but_covers_only_its_borough() -> None:
    camden = Principal("s", Role.custody_officer, "camden")
    assert camden.in_force_of("lambeth") and not camden.covers("lambeth")
    assert not camden.in_force_of("salford") and not Principal("s", Role.inspector, "manchester").in_force_of(
        "lambeth"
    )
    assert Principal("s", Role.inspector, "metropolitan").in_force_of("lambeth")


def test_the_cli_mints_no_national_token_for_a_role_whose_work_is_not_national(tmp_path: object) -> None:
    refused = CliRunner().invoke(app, ["token", "--role", "custody_officer", "--area", "*"])
    assert refused.exit_code != 0 and "national" in refused.output


@pytest.mark.parametrize("role", list(Role))
def test_t13_each_role_reads_results_only_for_its_permitted_purposes(role: Role) -> None:
    from dipflow.auth.purposes import PERMITTED, Purpose, purpose_of, required_purpose
    from dipflow.errors import Forbidden

    principal = Principal("s", role, "lambeth")
    for purpose in Purpose:
        if purpose in PERMITTED[role]:
            assert purpose_of(principal, purpose, Purpose) is purpose
        else:
            with pytest.raises(Forbidden) as refused:  # a 403 (dipflow.http.problems)
                purpose_of(principal, purpose, Purpose)
            assert refused.value.rule_id == "T13"
    assert purpose_of(principal, None, [Purpose.bail]) == (
        Purpose.bail if Purpose.bail in PERMITTED[role] else None
    )
    if not PERMITTED[role]:
        with pytest.raises(Forbidden):
            required_purpose(principal, None, Purpose)
    for national_only in (Role.police_enforcement, Role.analyst, Role.admin):
        assert PERMITTED[national_only] == frozenset()


def _provider_token(private_key: object, issuer: str, **claims: object) -> str:
    now = int(time.time())
    body = {"sub": "kc", "role": "inspector", "area": "metropolitan", "iss": issuer, "aud": "dipflow"}
    return jwt.encode({**body, "iat": now, "exp": now + 600, **claims}, private_key, algorithm="RS256")  # type: ignore[arg-type]


def test_beside_a_provider_each_algorithm_has_its_one_key_source_and_issuer() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer = "http://127.0.0.1:8180/realms/dipflow"
    secret = "s" * 40
    both = TokenVerifier(AuthSettings(dev_secret=secret, jwks_url=f"{issuer}/certs", issuer=issuer))
    published = jwt.PyJWK.from_json(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    both._jwks.get_signing_key_from_jwt = lambda _token: published  # type: ignore[union-attr,method-assign]
    assert both.verify(_provider_token(private, issuer)).role is Role.inspector  # the provider's, by JWKS
    assert both.verify(mint_token(secret, subject="dev", role=Role.analyst, area="*")).role is Role.analyst
    with pytest.raises(InvalidToken, match="issuer"):  # a development token never passes as the provider's
        both.verify(mint_token(secret, subject="dev", role=Role.analyst, area="*", issuer=issuer))
    with pytest.raises(InvalidToken, match="issuer"):
        both.verify(_provider_token(private, "dipflow-dev"))

    production = TokenVerifier(AuthSettings(jwks_url=f"{issuer}/certs", issuer=issuer))
    production._jwks.get_signing_key_from_jwt = lambda _token: published  # type: ignore[union-attr,method-assign]
    with pytest.raises(InvalidToken):  # no secret: HS256 is refused, whatever it is signed with
        production.verify(mint_token(secret, subject="dev", role=Role.analyst, area="*", issuer=issuer))
    development = TokenVerifier(AuthSettings(dev_secret=secret))
    with pytest.raises(InvalidToken, match="development algorithm"):
        development.verify(_provider_token(private, "dipflow-dev"))
