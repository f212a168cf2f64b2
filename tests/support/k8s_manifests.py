"""Every overlay of ``deploy/k8s`` rendered (:mod:`tests.support.kustomize`) and each document checked against
the API schemas of Kubernetes ``KUBERNETES_VERSION`` by kubernetes-validate in strict mode, where a field the API
does not have is an error as much as a missing or mistyped one. Offline: the schemas ship inside the package.

``make lint`` runs ``python -m tests.support.k8s_manifests``; it exits 1 naming every document that fails.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import kubernetes_validate

from tests.support.kustomize import Document, KustomizeError, render

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.31"
"""The oldest Kubernetes the manifests are for: strict schemas of a newer one would accept fields it lacks."""


def overlays() -> list[Path]:
    """Each directory of ``deploy/k8s/overlays`` with a kustomization."""
    return sorted(p for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())


def problems(document: Document) -> list[str]:
    """Why the API server of ``KUBERNETES_VERSION`` would refuse ``document`` by its schema; empty if it would not."""
    name = f"{document.get('kind')}/{document.get('metadata', {}).get('name')}"
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(part) for part in exc.path) or "(top)"
        return [f"{name}: {where}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"{name}: {exc.message}"]
    return []


def main() -> int:
    started = time.monotonic()
    failures: list[str] = []
    for overlay in overlays():
        label = overlay.relative_to(ROOT)
        try:
            documents = render(overlay)
        except KustomizeError as exc:
            failures.append(f"{label}: {exc}")
            continue
        found = [f"{label}: {problem}" for document in documents for problem in problems(document)]
        failures += found
        if not found:
            print(f"{label}: {len(documents)} documents valid for Kubernetes {KUBERNETES_VERSION} (strict)")
    for failure in failures:
        print(failure, file=sys.stderr)
    print(f"({time.monotonic() - started:.1f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
