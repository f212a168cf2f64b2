"""Keycloak, the development identity provider (OpenID Connect), run from Maven Central's keycloak-quarkus-dist.

``start-dev`` on loopback with an in-memory database: every start imports the realm
``deploy/local/keycloak/dipflow-realm.json`` afresh (one user per role, password ``dipflow-dev``; the role, area
and worker id as claims; the audience ``dipflow``; the public client ``dipflow-web`` with PKCE). Never a
production set-up: production points ``DIPFLOW_AUTH_JWKS_URL`` and ``DIPFLOW_WEB_OIDC_ISSUER`` at its own provider.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from dipflow.devstack.net import free_port
from dipflow.devstack.paths import project_root
from dipflow.devstack.process import ManagedProcess

REALM = "dipflow"
CLIENT_ID = "dipflow-web"
DEV_PASSWORD = "dipflow-dev"


def keycloak_pom(root: Path) -> Path:
    return root / "deploy" / "local" / "keycloak" / "pom.xml"


def realm_file(root: Path) -> Path:
    return root / "deploy" / "local" / "keycloak" / "dipflow-realm.json"


def fetch_keycloak(root: Path | None = None) -> Path:
    """Keycloak's home, unpacked from Maven Central into ``.local/keycloak`` on first use (again when the pom
    changes)."""
    root = root or project_root()
    pom = keycloak_pom(root)
    target = root / ".local" / "keycloak"
    stamp = target / ".pom-stamp"
    wanted = pom.read_text()
    homes = sorted(target.glob("keycloak-*/bin/kc.sh"))
    if stamp.exists() and stamp.read_text() == wanted and homes:
        return homes[-1].parents[1]
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise RuntimeError("Maven (mvn) and Java 17+ are needed to run Keycloak from Maven Central")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:unpack",
            f"-DoutputDirectory={target}",
            "-Dmdep.overWriteReleases=true",  # unpack again even where an old marker says it was done
        ],
        check=True,
    )
    stamp.write_text(wanted)
    return sorted(target.glob("keycloak-*/bin/kc.sh"))[-1].parents[1]


@dataclass
class KeycloakServer:
    """One development Keycloak on loopback; ``issuer`` is its realm's issuer URL."""

    log_dir: Path
    port: int = field(default_factory=free_port)
    management_port: int = field(default_factory=free_port)
    root: Path = field(default_factory=project_root)
    process: ManagedProcess | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}/realms/{REALM}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    def start(self, timeout_s: float = 180) -> None:
        """Start it and wait until the realm's discovery document answers."""
        home = fetch_keycloak(self.root)
        imports = home / "data" / "import"
        imports.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(realm_file(self.root), imports / f"{REALM}-realm.json")
        env = {
            **os.environ,
            "KC_BOOTSTRAP_ADMIN_USERNAME": "admin",
            "KC_BOOTSTRAP_ADMIN_PASSWORD": DEV_PASSWORD,
            "JAVA_OPTS_KC_HEAP": "-Xms64m -Xmx512m",
        }
        argv = [
            str(home / "bin" / "kc.sh"),
            "start-dev",
            "--db=dev-mem",
            "--import-realm",
            "--http-host=127.0.0.1",
            f"--http-port={self.port}",
            f"--http-management-port={self.management_port}",
            "--hostname-strict=false",
        ]
        self.process = ManagedProcess.start("keycloak", argv, log_path=self.log_dir / "keycloak.log", env=env)
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2) as client:
            while True:
                if not self.process.alive():
                    raise RuntimeError(f"Keycloak exited during start:\n{self.process.tail()}")
                try:
                    if client.get(f"{self.issuer}/.well-known/openid-configuration").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(
                        f"Keycloak was not ready within {timeout_s:.0f} s:\n{self.process.tail()}"
                    )
                time.sleep(0.5)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(signal.SIGTERM, timeout_s=30)
            self.process = None

    def env_for_services(self) -> dict[str, str]:
        """The services verify Keycloak's tokens through its JWKS (and development tokens with the secret)."""
        return {"DIPFLOW_AUTH_JWKS_URL": self.jwks_url, "DIPFLOW_AUTH_ISSUER": self.issuer}

    def env_for_web(self) -> dict[str, str]:
        """The web app signs people in through Keycloak; pasting a token stays available (development)."""
        return {
            **self.env_for_services(),
            "DIPFLOW_WEB_OIDC_ISSUER": self.issuer,
            "DIPFLOW_WEB_OIDC_CLIENT_ID": CLIENT_ID,
            "DIPFLOW_WEB_TOKEN_SIGN_IN": "true",
        }
