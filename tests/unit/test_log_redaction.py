"""No personal data in log lines: the redaction processor runs on every line, ours and the libraries'."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest

from dipflow.logging import (
    ACCESS_LOGGER,
    UVICORN_LOGGERS,
    configure_logging,
    get_logger,
    redact_personal_data,
)


def test_fields_named_for_personal_data_lose_their_values_and_pnc_numbers_are_masked_anywhere() -> None:
    line = redact_personal_data(
        None,
        "info",
        {
            "event": "lookup failed for 08/123456A",
            "name": "Alan Smith",
            "date_of_birth": "1975-05-05",
            "person_id": "L-ABC-1",
            "detail": {"key": "Key (person_id)=(2008/1234567Z) already exists", "person": "x"},
            "ids": ["99/1B", "D-1", "GET /v1/ppo-status/L-J5F42B0B9-3"],
            "detention_id": "D-42",
            "count": 3,
        },
    )
    assert line["event"] == "lookup failed for [pnc]"
    assert line["name"] == line["date_of_birth"] == line["person_id"] == "[redacted]"
    assert line["detail"] == {"key": "Key (person_id)=([pnc]) already exists", "person": "[redacted]"}
    assert line["ids"] == ["[pnc]", "D-1", "GET /v1/ppo-status/[person]"]
    assert (line["detention_id"], line["count"]) == ("D-42", 3)


def test_a_pnc_like_fragment_inside_a_longer_token_is_left_alone() -> None:
    assert redact_personal_data(None, "info", {"event": "path a08/123456Ab"})["event"] == "path a08/123456Ab"


def test_configured_logging_redacts_structlog_stdlib_and_uvicorn_lines_and_exceptions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    for name in (*UVICORN_LOGGERS, ACCESS_LOGGER):  # as uvicorn leaves them: its own handler, not propagating
        server = logging.getLogger(name)
        monkeypatch.setattr(server, "handlers", [logging.StreamHandler(io.StringIO())])
        monkeypatch.setattr(server, "propagate", False)
        monkeypatch.setattr(server, "disabled", False)
    configure_logging("test", json=True)
    get_logger("t").info("booked", person_id="08/123456A", name="Alan Smith", detention_id="D-1")
    try:
        raise ValueError("duplicate key 08/123456A")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("failed for 08/123456A")
    logging.getLogger(ACCESS_LOGGER).info('127.0.0.1 - "GET /v1/ppo-status/L-ABC-1 HTTP/1.1" 200')
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 2 and "L-ABC-1" not in out.getvalue()  # no access lines at all
    assert lines[0]["person_id"] == "[redacted]" and lines[0]["detention_id"] == "D-1"
    assert "08/123456A" not in out.getvalue() and "Alan Smith" not in out.getvalue()
    assert "ValueError: duplicate key [pnc]" in lines[1]["exception"]
