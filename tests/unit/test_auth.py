from __future__ import annotations

import pytest
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
