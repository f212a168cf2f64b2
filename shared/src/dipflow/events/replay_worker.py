"""One replay process's share: ``python -m dipflow.events.replay_worker``, given its work as JSON on stdin.

A worker is started afresh (not spawned by :mod:`multiprocessing`, which would import the parent's main module
again: in a bench or a command-line tool, more than the replay itself needs). It imports what the spec names and
nothing else; connection strings come on stdin, never in its arguments. It reports on stdout, one JSON object a
line: ``{"done": n}`` as its share progresses, then ``{"applied": a, "duplicates": d, "skipped": s}``. A failure
exits non-zero with the reason on stderr.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Share:
    """What a worker replays: the spec, where, and its spans as (topic, partition, beginning, end)."""

    target: str
    dsn: str
    bootstrap: str
    schema: str
    spans: list[tuple[str, int, int, int]]
    sys_path: list[str]

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Share:
        fields: dict[str, Any] = json.loads(raw)
        fields["spans"] = [tuple(span) for span in fields["spans"]]
        return cls(**fields)


_REPORTS = sys.stdout
"""Where the worker reports; anything else written to standard output (a handler's print, a logger left
unconfigured) goes to standard error instead, so it cannot be taken for a report."""


def _say(line: dict[str, int]) -> None:
    _REPORTS.write(json.dumps(line) + "\n")
    _REPORTS.flush()


def main() -> None:
    sys.stdout = sys.stderr
    share = Share.from_json(sys.stdin.buffer.read())
    sys.path[:] = share.sys_path  # the parent's, so a spec it can import is found here too
    import uvloop
    from aiokafka import TopicPartition

    from dipflow.events.replay import Counts, load_spec, replay_spans
    from dipflow.heap import steady_collection

    spans = [(TopicPartition(topic, p), beginning, end) for topic, p, beginning, end in share.spans]
    counts = Counts()
    with steady_collection():
        spec = load_spec(share.target)
        uvloop.run(
            replay_spans(
                spec,
                share.dsn,
                share.bootstrap,
                share.schema,
                spans,
                counts,
                lambda done, _: _say({"done": done}),
                0,
            )
        )
    _say({"applied": counts.applied, "duplicates": counts.duplicates, "skipped": counts.skipped})


if __name__ == "__main__":
    main()
