"""Structured JSON logs with correlation ids (structlog).

Log lines carry ids, never personal data. The code logs only ids of records, types and counts; as a second
line of defence every line passes through :func:`redact_personal_data`, which masks PNC numbers wherever they
appear (an exception message quoting a database key, say) and drops the values of fields named for personal
data.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

PNC_NUMBER = re.compile(r"\b[0-9]{2,4}/[0-9]{1,7}[A-Z]\b")
LOCAL_ID = re.compile(r"\bL-[A-Z0-9][A-Z0-9-]{2,29}\b")  # a force's local person id, where there is no PNC
PERSONAL_FIELDS = frozenset(
    {"name", "person_name", "date_of_birth", "dob", "person_id", "person", "pnc", "address", "note", "notes"}
)
REDACTED = "[redacted]"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")
ACCESS_LOGGER = "uvicorn.access"  # request lines carry raw paths, and paths carry person ids: never logged


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return LOCAL_ID.sub("[person]", PNC_NUMBER.sub("[pnc]", value))
    if isinstance(value, dict):
        return {k: REDACTED if k in PERSONAL_FIELDS else _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


def redact_personal_data(_: Any, __: str, event: MutableMapping[str, Any]) -> dict[str, Any]:
    """structlog processor: no field named for personal data keeps its value; PNC numbers are masked
    everywhere, including the message and rendered exceptions."""
    return {k: REDACTED if k in PERSONAL_FIELDS else _mask(v) for k, v in event.items()}


def configure_logging(service: str, level: str = "INFO", json: bool = True) -> None:
    """Route stdlib and structlog logs through one JSON renderer on stdout."""
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service(service),
        redact_personal_data,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=processors,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_personal_data,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for server in UVICORN_LOGGERS:  # uvicorn's own handlers would bypass the JSON renderer and the redactor
        logging.getLogger(server).handlers[:] = []
        logging.getLogger(server).propagate = True
    access = logging.getLogger(ACCESS_LOGGER)
    access.handlers[:] = []
    access.propagate = False
    access.disabled = True
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def _add_service(service: str) -> Any:
    def processor(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", service)
        return event

    return processor


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
