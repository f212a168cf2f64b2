"""The register's replay spec on the bench's own topics (``BENCH_REPLAY_PREFIX``), importable by the replay's
worker processes: ``bench.replay_spec:prefixed``."""

from __future__ import annotations

import dataclasses
import os

from dipflow.events.replay import ReplaySpec
from dipflow_ppo_register.replay import SPEC

PREFIX = "BENCH_REPLAY_PREFIX"


def prefixed() -> ReplaySpec:
    prefix = os.environ[PREFIX]
    spec: ReplaySpec = dataclasses.replace(SPEC, topics=[prefix + t for t in SPEC.topics])
    return spec
