"""``dipflow``: the developer command line (infrastructure, running the system)."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import httpx
import typer
import uvloop
from rich.console import Console
from rich.table import Table

from dipflow.auth.principal import NATIONAL, NATIONAL_ROLES, Role
from dipflow.auth.tokens import AuthSettings, mint_token
from dipflow.devstack.compose import write_compose_secrets
from dipflow.devstack.kafka import fetch_kafka
from dipflow.devstack.keycloak import DEV_PASSWORD, KeycloakServer, fetch_keycloak
from dipflow.devstack.paths import project_root
from dipflow.devstack.principals import PRINCIPALS
from dipflow.devstack.process import ManagedProcess
from dipflow.devstack.services import SERVICES, start_service
from dipflow.devstack.stack import LocalStack, StackAddresses
from dipflow.devstack.web import WEB, start_web
from dipflow.kafka.connection import java_client_properties, redacted

app = typer.Typer(help="dipflow developer commands.", no_args_is_help=True)
infra = typer.Typer(help="Kafka and PostgreSQL on loopback, without Docker.", no_args_is_help=True)
app.add_typer(infra, name="infra")
console = Console()


@app.callback()
def _quiet_client_logs() -> None:
    """Connection retries while a server starts are expected; keep them off the console."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


DEFAULT_STATE = project_root() / ".local" / "run"


PORT_OFFSET = typer.Option(0, help="Add this to every port (to run a second copy beside the first).")


def _stack(state_dir: Path, offset: int = 0) -> LocalStack:
    return LocalStack(
        state_dir,
        kafka_port=9092 + offset,
        controller_port=9093 + offset,
        postgres_port=55432 + offset,
    )


@infra.command("up")
def infra_up(
    state_dir: Path = typer.Option(DEFAULT_STATE, help="Where data persists."),
    port_offset: int = PORT_OFFSET,
) -> None:
    """Start Kafka (9092) and PostgreSQL (55432) in the background and wait until both answer."""
    stack = _stack(state_dir, port_offset)
    found = stack.running()
    if found is not None:
        _print_addresses(found, "already running")
        return
    with console.status("Starting Kafka and PostgreSQL…"):
        addresses = stack.up()
    # Detach: the servers keep running after this command; `dipflow infra down` stops them.
    stack.detach()
    _print_addresses(addresses, "started")


@infra.command("client-config")
def infra_client_config(
    principal: str = typer.Option("admin", help="Whose credentials: admin, a service, custody-system…"),
    state_dir: Path = typer.Option(DEFAULT_STATE, help="Where data persists."),
) -> None:
    """Print the properties Kafka's own tools need to reach the devstack's broker as ``principal``."""
    if principal not in PRINCIPALS:
        raise typer.BadParameter(f"no principal {principal!r}; one of {', '.join(PRINCIPALS)}")
    sys.stdout.write(java_client_properties(_stack(state_dir).kafka.address_for(principal)))


@infra.command("compose-secrets")
def infra_compose_secrets(
    folder: Path = typer.Option(Path(".local/compose"), help="Where docker-compose.yml reads them."),
) -> None:
    """Generate the credentials, certificates and broker settings docker-compose.yml needs (kept if present)."""
    written = write_compose_secrets(folder.resolve())
    console.print(f"{len(written)} files in {folder}; now `docker compose up --build`.")


@infra.command("fetch")
def infra_fetch() -> None:
    """Assemble the Kafka broker and unpack Keycloak from Maven Central into .local (once; cached)."""
    libs = fetch_kafka()
    console.print(f"Kafka jars ready in {libs}")
    console.print(f"Keycloak ready in {fetch_keycloak()}")


@infra.command("down")
def infra_down(state_dir: Path = typer.Option(DEFAULT_STATE, help="Where data persists.")) -> None:
    """Stop the servers `infra up` or an interrupted `run` left running."""
    stack = _stack(state_dir)
    stack.stop_leftovers()
    console.print("Kafka and PostgreSQL stopped.")


def _print_addresses(addresses: StackAddresses, verb: str) -> None:
    postgres = urlsplit(addresses.postgres_dsn)
    console.print(
        f"Kafka [bold]{redacted(addresses.kafka_bootstrap)}[/] and PostgreSQL "
        f"[bold]postgresql://{postgres.username}:***@{postgres.hostname}:{postgres.port}[/] {verb} "
        "(passwords, one per service, in the state folder's credentials.json and stack.json)."
    )


def dev_secret(state_dir: Path = DEFAULT_STATE) -> str:
    """The development signing secret: DIPFLOW_AUTH_DEV_SECRET, else one generated once per checkout."""
    given = os.environ.get("DIPFLOW_AUTH_DEV_SECRET")
    if given:
        return given
    path = state_dir / "auth-dev-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


@app.command()
def demo(
    arrests: int = typer.Option(40, help="Arrests in the day."),
    seed: int = typer.Option(2008, help="The same seed gives the same day."),
    port_offset: int = PORT_OFFSET,
    state_dir: Path = typer.Option(DEFAULT_STATE, help="Where `make run` keeps its development secret."),
) -> None:
    """Replay a generated day of a London custody suite through the running system and narrate it."""
    from dipflow.demo import Demo, Urls

    url = {spec.name: spec.url(port_offset) for spec in SERVICES}
    urls = Urls(url["custody"], url["referral"], url["ppo-register"], url["breach"])
    Demo(urls, dev_secret(state_dir), seed).run(arrests)


@app.command()
def token(
    role: Role = typer.Option(..., help="The role the token carries."),
    area: str = typer.Option(
        "metropolitan", help="Force or borough (e.g. camden), or * for national (admin and analyst only)."
    ),
    subject: str = typer.Option("dev-user", help="Who the token is for (sub claim)."),
    worker_id: str | None = typer.Option(
        None, help="Arrest referral worker id (needed for referral_worker)."
    ),
    ttl: int = typer.Option(8 * 3600, help="Lifetime in seconds."),
    state_dir: Path = typer.Option(DEFAULT_STATE, help="Where `make run` keeps its development secret."),
) -> None:
    """Print a development bearer token for ROLE, signed with the secret `make run` uses."""
    if role is Role.referral_worker and not worker_id:
        raise typer.BadParameter("a referral_worker token needs --worker-id")
    if area == NATIONAL and role not in NATIONAL_ROLES:
        raise typer.BadParameter(f"--area '*' (national) is only for {', '.join(sorted(NATIONAL_ROLES))}")
    settings = AuthSettings()
    typer.echo(
        mint_token(
            dev_secret(state_dir),
            subject=subject,
            role=role,
            area=area,
            worker_id=worker_id,
            issuer=settings.issuer,
            audience=settings.audience,
            ttl_s=ttl,
        )
    )


@app.command()
def schemas(
    check: bool = typer.Option(False, help="Only check: exit 1 if docs/ is stale or a change is breaking."),
) -> None:
    """Generate docs/schemas/*.json and docs/asyncapi.yaml from the services' event models."""
    from dipflow.devstack.catalog import compatibility_problems, generated_documents

    docs = project_root() / "docs"
    problems = compatibility_problems(docs)
    for problem in problems:
        console.print(f"[red]breaking:[/] {problem}")
    if problems:
        raise typer.Exit(1)
    wanted = generated_documents()
    stale = [name for name, text in wanted.items() if _read(docs / name) != text]
    if check:
        for name in stale:
            console.print(f"[red]stale:[/] docs/{name} (run `dipflow schemas`)")
        raise typer.Exit(1 if stale else 0)
    for name in stale:
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(wanted[name])
    console.print(f"{len(stale)} file(s) written, {len(wanted) - len(stale)} unchanged.")


@app.command()
def replay(
    target: str = typer.Argument(..., help="module:attribute of a ReplaySpec (or a function returning one)"),
    database_url: str = typer.Option(
        ..., envvar="DIPFLOW_REPLAY_DATABASE_URL", help="The service's database"
    ),
    bootstrap: str = typer.Option("127.0.0.1:9092", envvar="DIPFLOW_REPLAY_KAFKA_BOOTSTRAP"),
    schema: str = typer.Option("replay", help="Schema the fresh tables are built in (dropped first)"),
    processes: int | None = typer.Option(
        None,
        min=1,
        help="Processes sharing the partitions (default: one per CPU, each with at least 100,000 records)",
    ),
) -> None:
    """Rebuild a consumer's tables from the beginning of its topics into SCHEMA, beside the live ones."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from dipflow.events.replay import load_spec
    from dipflow.events.replay import replay as run_replay

    spec = load_spec(target)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(f"replaying {', '.join(spec.topics)}", total=None)
        result = uvloop.run(  # asyncpg and aiokafka spend less time in the event loop under uvloop
            run_replay(
                target,
                dsn=database_url,
                bootstrap=bootstrap,
                schema=schema,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                processes=processes,
            )
        )
    console.print(
        f"Replayed {result.total} records into schema [bold]{result.schema}[/]: {result.applied} applied, "
        f"{result.duplicates} duplicates, {result.skipped} skipped, in {result.seconds:.1f}s "
        f"({result.events_per_s:,.0f} events/s)."
    )


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


@app.command()
def run(
    state_dir: Path = typer.Option(DEFAULT_STATE, help="Where data persists between runs."),
    ready_timeout: float = typer.Option(120.0, help="Seconds to wait for every /readyz."),
    port_offset: int = PORT_OFFSET,
    keycloak: bool = typer.Option(
        False,
        "--keycloak/--no-keycloak",
        help="Also run Keycloak (from Maven Central) and sign in through it (make run does).",
    ),
    replicas: int = typer.Option(
        1, min=1, max=9, help="Instances of each service (the second on port +10, the third on +20…)."
    ),
) -> None:
    """Start Kafka, PostgreSQL, the four services and the web pages (and Keycloak with --keycloak); Ctrl-C stops
    everything it started."""
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    stack = _stack(state_dir, port_offset)
    addresses = stack.running()
    owns_infra = addresses is None
    services: list[ManagedProcess] = []
    provider = (
        KeycloakServer(state_dir / "logs", port=8180 + port_offset, management_port=9180 + port_offset)
        if keycloak
        else None
    )
    auth_env: dict[str, str] = {}
    web_env: dict[str, str] = {}
    try:
        if addresses is None:
            with console.status("Starting Kafka and PostgreSQL…"):
                addresses = stack.up()
        _print_addresses(addresses, "started" if owns_infra else "already running, reused")
        if provider is not None:
            with console.status("Starting Keycloak (the development identity provider)…"):
                provider.start()
            auth_env, web_env = provider.env_for_services(), provider.env_for_web()
            console.print(f"Keycloak [bold]{provider.issuer}[/] started.")
        with console.status("Starting the four services and the web pages…"):
            for spec in SERVICES:
                for replica in range(1, replicas + 1):
                    services.append(
                        start_service(
                            spec,
                            addresses,
                            log_dir=state_dir / "logs",
                            port=spec.replica_port(port_offset, replica),
                            replica=replica,
                            extra_env={
                                "DIPFLOW_AUTH_DEV_SECRET": dev_secret(state_dir),
                                "DIPFLOW_AUTH_PUBLIC_API_DOCS": "true",
                                **auth_env,
                            },
                        )
                    )
            services.append(
                start_web(
                    log_dir=state_dir / "logs",
                    port_offset=port_offset,
                    extra_env={
                        "DIPFLOW_AUTH_DEV_SECRET": dev_secret(state_dir),
                        "DIPFLOW_AUTH_PUBLIC_API_DOCS": "true",
                        **web_env,
                    },
                )
            )
            _wait_ready(services, ready_timeout, port_offset, replicas)
        _print_ready(state_dir, port_offset, provider, replicas)
        while all(p.alive() for p in services):
            time.sleep(0.5)
        dead = [p.name for p in services if not p.alive()]
        console.print(f"[red]Service(s) exited: {', '.join(dead)}; see {state_dir / 'logs'}[/]")
        raise typer.Exit(1)
    except _Stop:
        console.print("\nStopping…")
    finally:
        for process in services:
            process.stop(signal.SIGTERM, timeout_s=15)
        if provider is not None:
            provider.stop()
        if owns_infra:
            stack.down()
        console.print("Everything this command started has stopped.")


def _wait_ready(services: list[ManagedProcess], timeout_s: float, offset: int, replicas: int = 1) -> None:
    pending = {p.name: p for p in services}
    urls = {
        spec.replica_name(replica): f"{spec.url(offset, replica)}/readyz"
        for spec in SERVICES
        for replica in range(1, replicas + 1)
    }
    urls[WEB.name] = f"{WEB.url(offset)}/readyz"
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while pending:
            for name, process in list(pending.items()):
                if not process.alive():
                    sys.stderr.write(process.tail())
                    raise RuntimeError(f"service {name} exited during start; log: {process.log_path}")
                try:
                    if client.get(urls[name]).status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not ready within {timeout_s:.0f}s: {', '.join(pending)}")
            time.sleep(0.1)


def _print_ready(
    state_dir: Path, offset: int, provider: KeycloakServer | None = None, replicas: int = 1
) -> None:
    table = Table(title="dipflow is running — Ctrl-C stops it")
    table.add_column("service")
    table.add_column("API docs")
    table.add_column("ready")
    for spec in SERVICES:
        for replica in range(1, replicas + 1):
            url = spec.url(offset, replica)
            table.add_row(spec.replica_name(replica), f"{url}/docs", f"{url}/readyz")
    console.print(table)
    if provider is not None:
        console.print(
            f"Web pages: [bold]{WEB.url(offset)}/[/] (sign in as one of the realm's users, custody-officer, "
            f"inspector, referral-worker, … password {DEV_PASSWORD}; or with a `dipflow token`)"
        )
    else:
        console.print(f"Web pages (sign in with a `dipflow token`): [bold]{WEB.url(offset)}/[/]")
    console.print(f"Logs: {state_dir / 'logs'}   Data: {state_dir}")


if __name__ == "__main__":  # pragma: no cover
    app()
