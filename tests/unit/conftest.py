"""Unit tests never reach a database: the alerts a service function raises, escalates or resolves are recorded
on the fake unit of work (``FakeUnitOfWork.alerts``)."""

from __future__ import annotations

import pytest

from dipflow.alerts import store
from tests.support import fakes


@pytest.fixture(autouse=True)
def alerts_on_the_fake_unit_of_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "raise_alert", fakes.raise_alert)
    monkeypatch.setattr(store, "escalate", fakes.escalate)
    monkeypatch.setattr(store, "escalate_all", fakes.escalate_all)
    monkeypatch.setattr(store, "resolve", fakes.resolve)
    monkeypatch.setattr(store, "resolve_all", fakes.resolve_all)
