"""Render a kustomization without kubectl: the subset of kustomize that ``deploy/k8s`` uses, and nothing else.

No maintained Python package renders kustomize for Python 3.11 (``pykustomize`` needs 3.14; the others call the
kustomize binary or write kustomizations), and ``make lint`` must not need kubectl, so this module does the part
``deploy/k8s`` needs, as kustomize does it:

- ``resources``: YAML files (several documents each) and directories holding a ``kustomization.yaml``;
- ``secretGenerator`` from ``envs`` (``KEY=VALUE`` lines) and ``files`` (``[key=]path``), only with
  ``generatorOptions.disableNameSuffixHash: true`` (the name hash is not implemented);
- ``patches``: strategic-merge patches from ``path`` or ``patch``, applied to the resource of the patch's kind and
  name, or with a ``target`` of ``group``/``version``/``kind``/``name`` to every resource it selects; maps merge,
  ``null`` removes a key, and a list merges by its key only where this module knows the key (``MERGE_KEYS``);
- ``namespace``: set on every namespaced resource, after the patches (kustomize's order);
- output in kustomize's legacy order (kinds ranked as in kustomize's ``resid/gvk.go``, then group, version, kind,
  namespace, name).

Everything else is refused with :class:`KustomizeError` naming it (another kustomization field, a ``$patch``
directive, a list in a patch under a field whose merge key is not in ``MERGE_KEYS``, a binding whose subjects
the namespace would have to follow), so what this returns is what ``kubectl kustomize`` prints or an error.
``tests/unit/test_k8s_manifests.py`` compares the two wherever kubectl is installed.

``python -m tests.support.kustomize DIR`` prints the rendered documents, like ``kubectl kustomize DIR``.
"""

from __future__ import annotations

import base64
import copy
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

Document = dict[str, Any]

FIELDS = {"apiVersion", "kind", "resources", "namespace", "patches", "secretGenerator", "generatorOptions"}
SECRET_FIELDS = {"name", "envs", "files", "type"}
PATCH_FIELDS = {"path", "patch", "target"}
TARGET_FIELDS = {"group", "version", "kind", "name"}

MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
}
"""The lists a patch may hold, by field name, with the key Kubernetes merges their items by."""

BASE64_LINE = 70

CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
}
NOT_IMPLEMENTED_KINDS = {"RoleBinding", "ClusterRoleBinding"}  # kustomize rewrites their subjects' namespace

# kustomize api/resid/gvk.go: these kinds first, in this order; these last; every other kind between them.
ORDER_FIRST = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
]
ORDER_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]


class KustomizeError(Exception):
    """The kustomization is wrong, or asks for something this renderer does not implement."""


def render(directory: Path) -> list[Document]:
    """The documents ``kubectl kustomize directory`` prints, in its order, or :class:`KustomizeError`."""
    return sorted(_build(directory), key=_legacy_order)


class _Dumper(yaml.SafeDumper):
    """Prints a string of several lines as a literal block, as kustomize does."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _string)


def dump(documents: Iterable[Document]) -> str:
    """YAML documents separated by ``---``, keys sorted as kustomize prints them."""
    return "---\n".join(yaml.dump(d, Dumper=_Dumper, sort_keys=True, width=120) for d in documents)


def _build(directory: Path) -> list[Document]:
    kustomization = _kustomization(directory)
    documents: list[Document] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        documents += _build(path) if path.is_dir() else _load(path)
    documents += _generate_secrets(directory, kustomization)
    _check_unique(documents, directory)
    for patch, target in _patches(directory, kustomization):
        _apply(patch, target, documents, directory)
    if "namespace" in kustomization:
        _set_namespace(documents, kustomization["namespace"], directory)
    return documents


def _kustomization(directory: Path) -> dict[str, Any]:
    path = directory / "kustomization.yaml"
    if not path.is_file():
        raise KustomizeError(f"{directory}: no kustomization.yaml")
    loaded = yaml.safe_load(path.read_text()) or {}
    unknown = set(loaded) - FIELDS
    if unknown:
        raise KustomizeError(f"{path}: {', '.join(sorted(unknown))}: not implemented by this renderer")
    return dict(loaded)


def _load(path: Path) -> list[Document]:
    if not path.is_file():
        raise KustomizeError(f"{path}: no such resource file")
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    for document in documents:
        if not isinstance(document, dict) or not {"apiVersion", "kind", "metadata"} <= set(document):
            raise KustomizeError(f"{path}: a document without apiVersion, kind and metadata")
        if document["kind"] in NOT_IMPLEMENTED_KINDS:
            raise KustomizeError(f"{path}: {document['kind']}: not implemented by this renderer")
    return documents


def _generate_secrets(directory: Path, kustomization: dict[str, Any]) -> list[Document]:
    generators = kustomization.get("secretGenerator", [])
    if not generators:
        return []
    options = kustomization.get("generatorOptions", {})
    if options != {"disableNameSuffixHash": True}:
        raise KustomizeError(
            f"{directory}: generatorOptions must be exactly disableNameSuffixHash: true (no name hash here)"
        )
    secrets: list[Document] = []
    for generator in generators:
        unknown = set(generator) - SECRET_FIELDS
        if unknown:
            raise KustomizeError(
                f"{directory}: secretGenerator {', '.join(sorted(unknown))}: not implemented"
            )
        data: dict[str, str] = {}
        for env_file in generator.get("envs", []):
            data.update(_env_file(directory / env_file))
        for entry in generator.get("files", []):
            key, _, source = entry.rpartition("=")
            path = directory / source
            if not path.is_file():
                raise KustomizeError(f"{path}: no such file for secret {generator['name']}")
            data[key or path.name] = path.read_text()
        secrets.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": generator["name"]},
                "type": generator.get("type", "Opaque"),
                "data": {k: _base64(v) for k, v in data.items()},
            }
        )
    return secrets


def _base64(value: str) -> str:
    """As kustomize encodes generated data: lines of 70 characters, each ending in a newline once there are
    several (a decoder skips the newlines)."""
    encoded = base64.b64encode(value.encode()).decode()
    if len(encoded) < BASE64_LINE:
        return encoded
    return "".join(encoded[i : i + BASE64_LINE] + "\n" for i in range(0, len(encoded), BASE64_LINE))


def _env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines as kustomize reads them: the value verbatim (quotes and spaces kept)."""
    if not path.is_file():
        raise KustomizeError(f"{path}: no such env file")
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, found, value = line.lstrip().partition("=")
        if not found or not key:
            raise KustomizeError(
                f"{path}:{number}: not KEY=VALUE (reading the environment is not implemented)"
            )
        values[key] = value
    return values


def _check_unique(documents: list[Document], directory: Path) -> None:
    seen: set[tuple[str, str, str]] = set()
    for document in documents:
        identity = _identity(document)
        if identity in seen:
            raise KustomizeError(f"{directory}: {'/'.join(identity)} is declared twice")
        seen.add(identity)


def _identity(document: Document) -> tuple[str, str, str]:
    metadata = document["metadata"]
    return (document["kind"], metadata.get("namespace", ""), metadata["name"])


def _patches(directory: Path, kustomization: dict[str, Any]) -> list[tuple[Document, dict[str, str] | None]]:
    found: list[tuple[Document, dict[str, str] | None]] = []
    for entry in kustomization.get("patches", []):
        unknown = set(entry) - PATCH_FIELDS
        target = entry.get("target")
        if unknown or (target is not None and set(target) - TARGET_FIELDS):
            raise KustomizeError(
                f"{directory}: patch {entry}: only path or patch, and a target by kind and name"
            )
        text = (directory / entry["path"]).read_text() if "path" in entry else entry["patch"]
        for patch in yaml.safe_load_all(text):
            if patch is not None:
                _check_patch(patch, directory)
                found.append((patch, target))
    return found


def _check_patch(value: Any, directory: Path, field: str = "") -> None:
    if isinstance(value, dict):
        directives = [k for k in value if str(k).startswith("$")]
        if directives:
            raise KustomizeError(f"{directory}: patch directive {directives[0]}: not implemented")
        for key, item in value.items():
            _check_patch(item, directory, key)
    elif isinstance(value, list):
        if field not in MERGE_KEYS:
            raise KustomizeError(
                f"{directory}: a patch sets the list {field!r}, whose merge key is not known here"
            )
        for item in value:
            if not isinstance(item, dict) or MERGE_KEYS[field] not in item:
                raise KustomizeError(f"{directory}: an item of {field!r} without its {MERGE_KEYS[field]!r}")
            _check_patch(item, directory, field)


def _apply(
    patch: Document, target: dict[str, str] | None, documents: list[Document], directory: Path
) -> None:
    if target is None:
        group, _ = _group_version(patch)
        selector = {"group": group, "kind": patch["kind"], "name": patch["metadata"]["name"]}
    else:
        selector = target
    chosen = [d for d in documents if _selected(d, selector)]
    if not chosen:
        raise KustomizeError(f"{directory}: no resource matches the patch for {selector}")
    if target is not None:  # the target chooses: the patch's own name says nothing
        patch = {
            **patch,
            "metadata": {k: v for k, v in patch["metadata"].items() if k not in ("name", "namespace")},
        }
    for document in chosen:
        if document["kind"] != patch["kind"]:
            raise KustomizeError(
                f"{directory}: a {patch['kind']} patch for the {document['kind']} {selector}"
            )
        merged = _merge(document, patch)
        document.clear()
        document.update(merged)


def _selected(document: Document, selector: dict[str, str]) -> bool:
    group, version = _group_version(document)
    actual = {
        "group": group,
        "version": version,
        "kind": document["kind"],
        "name": document["metadata"]["name"],
    }
    return all(actual[field] == wanted for field, wanted in selector.items())


def _group_version(document: Document) -> tuple[str, str]:
    group, _, version = str(document["apiVersion"]).rpartition("/")
    return group, version


def _merge(original: Any, patch: Any, field: str = "") -> Any:
    """Strategic merge: maps key by key (``None`` deletes), keyed lists item by item, anything else replaced."""
    if isinstance(original, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(original)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = _merge(merged.get(key), value, key)
        return merged
    if isinstance(original, list) and isinstance(patch, list) and field in MERGE_KEYS:
        key = MERGE_KEYS[field]
        merged_list = copy.deepcopy(original)
        for item in patch:
            index = next((i for i, old in enumerate(merged_list) if old.get(key) == item[key]), None)
            if index is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[index] = _merge(merged_list[index], item)
        return merged_list
    return copy.deepcopy(patch)


def _set_namespace(documents: list[Document], namespace: str, directory: Path) -> None:
    for document in documents:
        if document["kind"] == "Namespace":
            if document["metadata"]["name"] != namespace:
                raise KustomizeError(
                    f"{directory}: Namespace {document['metadata']['name']} is not {namespace}"
                )
        elif document["kind"] not in CLUSTER_SCOPED:
            document["metadata"]["namespace"] = namespace


def _legacy_order(document: Document) -> tuple[int, str, str, str]:
    kind = document["kind"]
    if kind in ORDER_FIRST:
        rank = ORDER_FIRST.index(kind) - len(ORDER_FIRST)
    else:
        rank = ORDER_LAST.index(kind) + 1 if kind in ORDER_LAST else 0
    group, version = _group_version(document)
    metadata = document["metadata"]
    return (rank, f"{group or '~G'}_{version}_{kind}", metadata.get("namespace", ""), metadata["name"])


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.support.kustomize DIRECTORY", file=sys.stderr)
        return 2
    try:
        print(dump(render(Path(argv[0]))), end="")
    except KustomizeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
