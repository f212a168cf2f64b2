from __future__ import annotations

import pytest

from dipflow.db.database import database_name, server_dsn
from dipflow.devstack.services import SERVICES
from dipflow.topics import DLQ_SUFFIX, MAIN_TOPICS, all_topics
from dipflow_breach.settings import BreachSettings
from dipflow_custody.settings import CustodySettings
from dipflow_ppo_register.settings import PpoRegisterSettings
from dipflow_referral.settings import ReferralSettings


def test_each_service_reads_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIPFLOW_CUSTODY_DATABASE_URL", "postgresql://h:1/custody_x")
    monkeypatch.setenv("DIPFLOW_REFERRAL_KAFKA_BOOTSTRAP", "broker:1234")
    monkeypatch.setenv("DIPFLOW_PPO_REGISTER_LOG_LEVEL", "DEBUG")
    assert CustodySettings().database_url == "postgresql://h:1/custody_x"
    assert ReferralSettings().database_url.endswith("/referral")
    assert ReferralSettings().kafka_bootstrap == "broker:1234"
    assert CustodySettings().kafka_bootstrap == "127.0.0.1:9092"
    assert PpoRegisterSettings().log_level == "DEBUG"
    assert BreachSettings().log_level == "INFO"


def test_service_defaults_match_the_documented_ports_and_databases() -> None:
    defaults = {
        "custody": CustodySettings(),
        "referral": ReferralSettings(),
        "ppo-register": PpoRegisterSettings(),
        "breach": BreachSettings(),
    }
    for spec in SERVICES:
        assert database_name(defaults[spec.name].database_url) == spec.database
        assert defaults[spec.name].service_name == spec.name
    assert [spec.port for spec in SERVICES] == [8001, 8002, 8003, 8004]


def test_every_topic_has_a_dead_letter_twin_and_explicit_partitions() -> None:
    topics = {spec.name: spec for spec in all_topics()}
    for spec in MAIN_TOPICS:
        assert spec.partitions >= 1
        assert spec.name.endswith(".v1")
        assert spec.name + DLQ_SUFFIX in topics
    assert topics["ppo.register.v1"].broker_config()["cleanup.policy"] == "compact"
    assert "cleanup.policy" not in topics["custody.events.v1"].broker_config()


def test_server_dsn_keeps_credentials_and_options() -> None:
    dsn = "postgresql://u:p@db:5432/custody?sslmode=require"
    assert server_dsn(dsn) == "postgresql://u:p@db:5432/postgres?sslmode=require"
    assert database_name(dsn) == "custody"
    with pytest.raises(ValueError):
        database_name("postgresql://db:5432")
