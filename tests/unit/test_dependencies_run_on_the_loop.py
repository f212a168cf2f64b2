"""Every route's dependencies are coroutines: FastAPI runs a plain ``def`` dependency in its thread pool, a hand-off
to a worker thread and back (and a wait for the GIL) on every request that uses it, for what is a read of the
app's state."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from dipflow.devstack.services import SERVICES, ServiceSpec


def routes(found: Iterable[Any]) -> Iterator[APIRoute]:
    for route in found:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router, kept whole by FastAPI
            yield from routes(route.original_router.routes)


def on_the_loop(call: Any) -> bool:
    target = call if inspect.isroutine(call) else type(call).__call__  # a callable object: its __call__
    return inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)


def run_in_threads(dependant: Dependant) -> Iterator[str]:
    for sub in dependant.dependencies:
        if sub.call is not None and not on_the_loop(sub.call):
            yield f"{sub.call.__module__}.{getattr(sub.call, '__qualname__', type(sub.call).__qualname__)}"
        yield from run_in_threads(sub)


@pytest.mark.parametrize("spec", SERVICES, ids=[s.name for s in SERVICES])
def test_no_route_of_a_service_hands_a_dependency_to_a_thread(spec: ServiceSpec) -> None:
    app: FastAPI = importlib.import_module(f"{spec.package}.main").create_app()
    found = {
        f"{sorted(route.methods or ())} {route.path}: {name}"
        for route in routes(app.routes)
        for name in run_in_threads(route.dependant)
    }
    assert not found, "plain def dependencies (run in the thread pool):\n" + "\n".join(sorted(found))
