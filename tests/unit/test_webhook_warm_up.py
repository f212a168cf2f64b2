"""A delivery loop loads what its first POST needs when it starts, so the first alert after a start is not late by
the time it takes to load it (30-150 ms of imports and certificates, measured at the first delivery)."""

import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import asyncio, sys
    from dipflow import webhooks
    from dipflow.events.timers import TimerLoop

    async def stop_at_once(self):
        return None

    TimerLoop.run = stop_at_once  # the passes themselves need a database: only the start is looked at here
    before = "anyio._backends._asyncio" in sys.modules
    loop = webhooks.DeliveryLoop(
        None, None, "alert-webhook", None, retry_base_s=1.0, max_attempts=3, timeout_s=5.0
    )

    async def start():
        await loop.run()
        print(before, "anyio._backends._asyncio" in sys.modules, asyncio.get_running_loop() in webhooks._clients)

    asyncio.run(start())
    """
)


def test_a_delivery_loop_starts_with_its_client_made_and_the_backend_of_its_first_request_loaded() -> None:
    # A fresh interpreter: in this one, other tests may have loaded the backend already.
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True", "True"]
