"""deploy/k8s rendered as kustomize renders it (tests.support.kustomize, the same as ``kubectl kustomize`` where
kubectl is installed) and checked: each workload's probes, resources, security, disruption budget, autoscaler
and service account; the network policies against the flows of docs/architecture.md; the credentials only in
Secrets made from git-ignored files, which the committed templates fill with placeholders; every document valid
for the Kubernetes API in strict mode; the Strimzi and CloudNativePG examples of docs/kubernetes.md matching the
topics each service produces and consumes."""

from __future__ import annotations

import base64
import ipaddress
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from dipflow.devstack.catalog import consumers, producers
from dipflow.devstack.services import SERVICES
from dipflow.devstack.web import WEB
from dipflow.privacy.events import PRIVACY_EVENTS
from dipflow.topics import DLQ_SUFFIX, all_topics
from tests.support.k8s_manifests import K8S, ROOT, overlays, problems
from tests.support.kustomize import Document, render

PORTS = {spec.name: spec.port for spec in SERVICES} | {WEB.name: WEB.port}
NAMESPACES = {"dev": "dipflow-dev", "production": "dipflow"}
PLACEHOLDER = "CHANGE_ME"
QUANTITY = re.compile(r"^\d+(\.\d+)?(m|Ki|Mi|Gi)?$")
KAFKA_ADDRESS = re.compile(
    r"^sasl_ssl://(?P<principal>[^:@]+):(?P<password>[^@]+)@(?P<servers>[^?]+)\?cafile=(?P<cafile>.+)$"
)
USERINFO = re.compile(r"://[^/@:\s]+:[^/@\s]+@")  # user:password@ in any address, URL or not
KUBECTL = shutil.which("kubectl")


@pytest.fixture(scope="module", params=overlays(), ids=lambda p: p.name)
def overlay(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path


@pytest.fixture(scope="module")
def rendered(overlay: Path) -> list[Document]:
    return render(overlay)


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/k8s/secrets as an operator fills it, from the committed templates only (never a real file that
    may be beside them): each copied to the name the kustomization reads."""
    target = tmp_path_factory.mktemp("secrets")
    shutil.copy(K8S / "secrets" / "kustomization.yaml", target)
    for source in (K8S / "secrets").glob("*.example"):
        shutil.copy(source, target / source.name.removesuffix(".example"))
    return target


@pytest.fixture(scope="module")
def secrets(secrets_dir: Path) -> dict[str, dict[str, str]]:
    """Each generated Secret's name → its data, decoded."""
    return {
        s["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in s["data"].items()}
        for s in render(secrets_dir)
    }


def of_kind(documents: list[Document], kind: str) -> list[Document]:
    return [d for d in documents if d.get("kind") == kind]


def named(documents: list[Document], kind: str, name: str) -> Document:
    (found,) = [d for d in of_kind(documents, kind) if d["metadata"]["name"] == name]
    return found


def pod_labels(deployment: Document) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def container(deployment: Document) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(only)


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels, matchExpressions) against ``labels``; ``{}`` selects all."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        held = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not held:
            return False
    return True


# ---- every workload


def test_the_five_workloads_are_deployed_with_their_services(rendered: list[Document], overlay: Path) -> None:
    deployments = {d["metadata"]["name"]: d for d in of_kind(rendered, "Deployment")}
    assert set(deployments) == set(PORTS)
    for name, deployment in deployments.items():
        assert deployment["metadata"]["namespace"] == NAMESPACES[overlay.name]
        assert container(deployment)["ports"] == [{"name": "http", "containerPort": PORTS[name]}]
        service = named(rendered, "Service", name)
        assert service["spec"]["ports"] == [{"name": "http", "port": PORTS[name], "targetPort": "http"}]
        assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
        assert selects(deployment["spec"]["selector"], pod_labels(deployment))


def test_each_deployment_is_probed_on_readyz_and_healthz(rendered: list[Document]) -> None:
    for deployment in of_kind(rendered, "Deployment"):
        app = container(deployment)
        assert app["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, deployment["metadata"]
        assert app["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, deployment["metadata"]


def test_every_container_requests_and_is_limited_in_cpu_and_memory(rendered: list[Document]) -> None:
    for deployment in of_kind(rendered, "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        for each in spec["containers"] + spec.get("initContainers", []):
            resources = each.get("resources", {})
            for bound in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    value = str(resources.get(bound, {}).get(resource, ""))
                    assert QUANTITY.match(value), (
                        f"{deployment['metadata']['name']} {bound}.{resource}: {value!r}"
                    )


def test_each_deployment_has_a_disruption_budget(rendered: list[Document], overlay: Path) -> None:
    for deployment in of_kind(rendered, "Deployment"):
        budgets = [
            b
            for b in of_kind(rendered, "PodDisruptionBudget")
            if selects(b["spec"]["selector"], pod_labels(deployment))
        ]
        assert len(budgets) == 1, deployment["metadata"]["name"]
        # one replica in development: a budget of 1 there would block every node drain
        assert budgets[0]["spec"]["minAvailable"] == (0 if overlay.name == "dev" else 1)


def test_each_deployment_is_autoscaled_on_cpu(rendered: list[Document], overlay: Path) -> None:
    for deployment in of_kind(rendered, "Deployment"):
        name = deployment["metadata"]["name"]
        scalers = [
            h
            for h in of_kind(rendered, "HorizontalPodAutoscaler")
            if h["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        ]
        assert len(scalers) == 1, name
        (scaler,) = scalers
        assert scaler["apiVersion"] == "autoscaling/v2"
        assert {"type": "Utilization", "averageUtilization": 70} in [
            m["resource"]["target"] for m in scaler["spec"]["metrics"] if m["resource"]["name"] == "cpu"
        ]
        replicas = 1 if overlay.name == "dev" else 2
        assert deployment["spec"]["replicas"] == scaler["spec"]["minReplicas"] == replicas
        assert scaler["spec"]["maxReplicas"] <= 6  # partitions of the event topics


def test_each_deployment_runs_as_nobody_without_privileges(rendered: list[Document]) -> None:
    for deployment in of_kind(rendered, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 65534  # services/Dockerfile: USER nobody
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for each in pod["containers"]:
            context = each["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"] == {"drop": ["ALL"]}


def test_each_deployment_has_its_own_service_account_without_a_token(rendered: list[Document]) -> None:
    for deployment in of_kind(rendered, "Deployment"):
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == name
        assert pod["automountServiceAccountToken"] is False
        assert named(rendered, "ServiceAccount", name)["automountServiceAccountToken"] is False


def test_each_overlay_puts_everything_in_its_namespace(rendered: list[Document], overlay: Path) -> None:
    namespace = NAMESPACES[overlay.name]
    (declared,) = of_kind(rendered, "Namespace")
    assert declared["metadata"]["name"] == namespace
    assert declared["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert all(d["metadata"]["namespace"] == namespace for d in rendered if d["kind"] != "Namespace")


# ---- settings and credentials


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_each_service_reads_its_addresses_from_its_secret_and_mounts_the_kafka_ca(
    rendered: list[Document], spec: Any
) -> None:
    deployment = named(rendered, "Deployment", spec.name)
    env = {e["name"]: e for e in container(deployment)["env"]}
    for setting in ("DATABASE_URL", "KAFKA_BOOTSTRAP"):
        reference = env[spec.env_prefix + setting]["valueFrom"]["secretKeyRef"]
        assert reference == {"name": f"dipflow-{spec.name}-credentials", "key": spec.env_prefix + setting}
    (mount,) = [m for m in container(deployment)["volumeMounts"] if m["name"] == "kafka-ca"]
    (volume,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "kafka-ca"]
    assert (mount["mountPath"], mount["readOnly"]) == ("/etc/dipflow/kafka", True)
    assert volume["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]


def test_web_calls_the_services_by_their_kubernetes_names(rendered: list[Document]) -> None:
    config = named(rendered, "ConfigMap", "dipflow-web-config")["data"]
    for spec in SERVICES:
        url = urlsplit(config[f"DIPFLOW_WEB_{spec.name.upper().replace('-', '_')}_URL"])
        service = named(rendered, "Service", url.hostname or "")
        assert (url.scheme, url.port) == ("http", service["spec"]["ports"][0]["port"])
        assert url.hostname == spec.name


def _literal_settings(documents: list[Document]) -> list[tuple[str, str, str]]:
    """(where, name, value) of every setting written out in a ConfigMap or a container's env."""
    found = [
        (f"ConfigMap/{d['metadata']['name']}", k, str(v))
        for d in of_kind(documents, "ConfigMap")
        for k, v in d.get("data", {}).items()
    ]
    for deployment in of_kind(documents, "Deployment"):
        for each in deployment["spec"]["template"]["spec"]["containers"]:
            found += [
                (f"Deployment/{deployment['metadata']['name']}", e["name"], str(e["value"]))
                for e in each.get("env", [])
                if "value" in e
            ]
    return found


def test_no_credential_is_written_into_the_rendered_manifests(rendered: list[Document]) -> None:
    for secret in of_kind(rendered, "Secret"):
        values = [base64.b64decode(v).decode() for v in secret.get("data", {}).values()]
        values += [str(v) for v in secret.get("stringData", {}).values()]
        assert all(PLACEHOLDER in v for v in values), (
            f"Secret/{secret['metadata']['name']} holds a credential"
        )
    for where, name, value in _literal_settings(rendered):
        assert not re.search(r"PASSWORD|SECRET|TOKEN|DATABASE_URL|KAFKA_BOOTSTRAP", name), f"{where}: {name}"
        assert not USERINFO.search(value), f"{where}: {name} carries a password"


def test_the_secret_templates_hold_placeholders_only(secrets: dict[str, dict[str, str]]) -> None:
    for name, data in secrets.items():
        for key, value in data.items():
            assert PLACEHOLDER in value, f"{name}.{key} is not a placeholder"


def test_the_secret_templates_give_every_credential_the_manifests_read(
    rendered: list[Document], secrets: dict[str, dict[str, str]]
) -> None:
    for deployment in of_kind(rendered, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        for each in pod["containers"]:
            for e in each.get("env", []):
                reference = e.get("valueFrom", {}).get("secretKeyRef")
                if reference:
                    assert reference["key"] in secrets[reference["name"]], (deployment["metadata"]["name"], e)
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                keys = {item["key"] for item in volume["secret"]["items"]}
                assert keys <= set(secrets[volume["secret"]["secretName"]])


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_each_service_has_its_own_kafka_principal_and_database_role(
    secrets: dict[str, dict[str, str]], spec: Any
) -> None:
    data = secrets[f"dipflow-{spec.name}-credentials"]
    kafka = KAFKA_ADDRESS.match(data[spec.env_prefix + "KAFKA_BOOTSTRAP"])  # not a URL: "_" in the scheme
    assert kafka, data[spec.env_prefix + "KAFKA_BOOTSTRAP"]
    assert (kafka["principal"], kafka["servers"], kafka["cafile"]) == (
        spec.name,
        "kafka-bootstrap:9093",
        "/etc/dipflow/kafka/ca.crt",
    )
    database = urlsplit(data[spec.env_prefix + "DATABASE_URL"])
    assert (database.scheme, database.username, database.hostname, database.port, database.path) == (
        "postgresql",
        spec.database,
        "postgres",
        5432,
        f"/{spec.database}",
    )


def test_the_real_secret_files_are_ignored_by_git() -> None:
    names = ["custody.env", "web.env", "kafka-ca.crt"]
    ignored = subprocess.run(
        ["git", "check-ignore", *[f"deploy/k8s/secrets/{n}" for n in names]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert ignored == [f"deploy/k8s/secrets/{n}" for n in names]


# ---- network policies


@dataclass(frozen=True)
class Pod:
    """One end of a connection: a pod (its namespace, labels and named ports) or an address outside."""

    namespace: str
    labels: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    address: str | None = None  # set for an address outside the cluster


def _peer_matches(peer: dict[str, Any], other: Pod, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        if other.address is None:
            return False
        address = ipaddress.ip_address(other.address)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except", [])
        )
    if other.address is not None:
        return False
    if "namespaceSelector" in peer:
        namespace_labels = {"kubernetes.io/metadata.name": other.namespace}
        if not selects(peer["namespaceSelector"], namespace_labels):
            return False
    elif other.namespace != policy_namespace:
        return False
    return selects(peer.get("podSelector", {}), other.labels)


def _port_matches(rule: dict[str, Any], target: Pod, port: int, protocol: str) -> bool:
    if not rule.get("ports"):
        return True
    for allowed in rule["ports"]:
        number = target.ports.get(allowed["port"]) if isinstance(allowed["port"], str) else allowed["port"]
        if allowed.get("protocol", "TCP") == protocol and number == port:
            return True
    return False


def allowed(documents: list[Document], source: Pod, target: Pod, port: int, protocol: str = "TCP") -> bool:
    """Whether the NetworkPolicies let ``source`` open ``port`` on ``target``: the source's egress and the
    target's ingress, each side governed only where a policy of its namespace selects it (policies are
    additive; a selected pod with no rule that matches is isolated)."""
    policies = of_kind(documents, "NetworkPolicy")

    def side(pod: Pod, direction: str, peers_key: str, other: Pod, port_owner: Pod) -> bool:
        if pod.address is not None:
            return True
        governing = [
            p
            for p in policies
            if p["metadata"]["namespace"] == pod.namespace
            and direction in p["spec"]["policyTypes"]
            and selects(p["spec"]["podSelector"], pod.labels)
        ]
        if not governing:
            return True
        return any(
            _port_matches(rule, port_owner, port, protocol)
            and (
                peers_key not in rule
                or any(_peer_matches(peer, other, pod.namespace) for peer in rule[peers_key])
            )
            for p in governing
            for rule in p["spec"].get(direction.lower(), [])
        )

    return side(source, "Egress", "to", target, target) and side(target, "Ingress", "from", source, target)


@pytest.fixture(scope="module")
def pods(rendered: list[Document]) -> dict[str, Pod]:
    """The five workloads' pods, as rendered, and the others ends of their flows."""
    found = {
        d["metadata"]["name"]: Pod(
            d["metadata"]["namespace"],
            pod_labels(d),
            {p["name"]: p["containerPort"] for p in container(d)["ports"]},
        )
        for d in of_kind(rendered, "Deployment")
    }
    return found | {
        "ingress": Pod("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}),
        "prometheus": Pod("monitoring", {"app.kubernetes.io/name": "prometheus"}),
        "grafana": Pod("monitoring", {"app.kubernetes.io/name": "grafana"}),
        "dns": Pod("kube-system", {"k8s-app": "kube-dns"}),
        "kafka": Pod("kafka", {"strimzi.io/cluster": "dipflow", "strimzi.io/kind": "Kafka"}),
        "postgres": Pod("postgres", {"cnpg.io/cluster": "dipflow-pg"}),
        "keycloak": Pod("keycloak", {"app": "keycloak"}),
        "stranger": Pod("default", {"app": "anything"}),
        "receiver": Pod("", address="203.0.113.10"),
        "metadata-service": Pod("", address="169.254.169.254"),
    }


def test_a_default_deny_policy_covers_every_pod_both_ways(rendered: list[Document]) -> None:
    deny = [
        p
        for p in of_kind(rendered, "NetworkPolicy")
        if p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert len(deny) == 1


def test_a_network_policy_of_its_own_selects_each_workload(rendered: list[Document]) -> None:
    for deployment in of_kind(rendered, "Deployment"):
        specific = [
            p
            for p in of_kind(rendered, "NetworkPolicy")
            if p["spec"]["podSelector"] and selects(p["spec"]["podSelector"], pod_labels(deployment))
        ]
        assert specific, deployment["metadata"]["name"]


def test_only_the_flows_of_the_architecture_are_allowed(
    rendered: list[Document], pods: dict[str, Pod]
) -> None:
    services = [spec.name for spec in SERVICES]
    workloads = [*services, "web"]
    flows = {
        ("ingress", "web", 8005),
        *{("web", name, PORTS[name]) for name in services},
        *{("prometheus", name, PORTS[name]) for name in workloads},
        *{(name, "kafka", 9093) for name in services},
        *{(name, "postgres", 5432) for name in services},
        *{(name, "keycloak", 8443) for name in workloads},
        *{(name, "keycloak", 8080) for name in workloads},
        *{(name, "receiver", 443) for name in services},  # webhooks
        *{(name, "dns", 53) for name in workloads},
    }
    ends = list(pods)
    ports = sorted({*PORTS.values(), 53, 80, 443, 5432, 8080, 8443, 9093})
    for source in ends:
        for target in ends:
            if source == target or not ({source, target} & set(workloads)):
                continue
            for port in ports:
                expected = (source, target, port) in flows
                found = allowed(rendered, pods[source], pods[target], port)
                assert found == expected, f"{source} → {target}:{port} is {'' if found else 'not '}allowed"
    for name in workloads:
        assert allowed(rendered, pods[name], pods["dns"], 53, "UDP")


# ---- validity


def test_every_rendered_document_is_valid_for_kubernetes(rendered: list[Document], secrets_dir: Path) -> None:
    found = [problem for document in [*rendered, *render(secrets_dir)] for problem in problems(document)]
    assert not found, "\n".join(found)


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_the_renderer_agrees_with_kubectl_kustomize(overlay: Path, secrets_dir: Path) -> None:
    assert KUBECTL is not None
    for directory in (overlay, secrets_dir):
        printed = subprocess.run(
            [KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, check=True
        )
        assert render(directory) == list(yaml.safe_load_all(printed.stdout)), directory


# ---- the examples of docs/kubernetes.md


@pytest.fixture(scope="module")
def examples() -> list[Document]:
    """Every document of the yaml blocks of docs/kubernetes.md (indented blocks too)."""
    text = (ROOT / "docs" / "kubernetes.md").read_text()
    found: list[Document] = []
    for indent, block in re.findall(r"^( *)```yaml\n(.*?)^\1```", text, re.S | re.M):
        lines = [line[len(indent) :] for line in block.splitlines()]
        found += [d for d in yaml.safe_load_all("\n".join(lines)) if d]
    return found


def _acls(user: Document) -> set[tuple[str, str, str, str]]:
    return {
        (acl["resource"]["type"], acl["resource"]["name"], acl["resource"]["patternType"], operation)
        for acl in user["spec"]["authorization"]["acls"]
        for operation in acl["operations"]
    }


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_each_service_s_kafka_user_may_do_exactly_what_it_does(examples: list[Document], spec: Any) -> None:
    user = named(examples, "KafkaUser", spec.name)
    assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
    produced = {model.topic for model in producers()[spec.name]} | {model.topic for model in PRIVACY_EVENTS}
    consumed = set(consumers()[spec.name])
    expected = {("group", f"{spec.name}.", "prefix", "Read")}
    for topic in produced | {t + DLQ_SUFFIX for t in consumed}:
        expected |= {("topic", topic, "literal", "Write"), ("topic", topic, "literal", "Describe")}
    for topic in consumed:
        expected |= {("topic", topic, "literal", "Read"), ("topic", topic, "literal", "Describe")}
    assert _acls(user) == expected


def test_the_outside_systems_write_only_their_commands(examples: list[Document]) -> None:
    for user, clients in (("custody-system", "custody-clients"), ("probation-system", "breach-clients")):
        topics = {model.topic for model in producers()[clients]}
        expected = {("topic", t, "literal", op) for t in topics for op in ("Write", "Describe")}
        assert _acls(named(examples, "KafkaUser", user)) == expected


def test_the_kafka_example_has_every_topic_and_the_listener_the_services_use(
    examples: list[Document], rendered: list[Document]
) -> None:
    topics = {t["metadata"]["name"]: t["spec"] for t in of_kind(examples, "KafkaTopic")}
    assert topics == {
        t.name: {
            "partitions": t.partitions,
            "replicas": 3,
            **({"config": t.broker_config()} if t.broker_config() else {}),
        }
        for t in all_topics()
    }
    (kafka,) = of_kind(examples, "Kafka")
    (listener,) = kafka["spec"]["kafka"]["listeners"]
    assert (listener["port"], listener["tls"], listener["authentication"]) == (
        9093,
        True,
        {"type": "scram-sha-512"},
    )
    assert "kafka-bootstrap" in listener["configuration"]["bootstrap"]["alternativeNames"]
    assert kafka["spec"]["kafka"]["authorization"] == {"type": "simple"}
    name, namespace = kafka["metadata"]["name"], kafka["metadata"]["namespace"]
    bootstrap = named(rendered, "Service", "kafka-bootstrap")["spec"]
    assert bootstrap["externalName"] == f"{name}-kafka-bootstrap.{namespace}.svc.cluster.local"


def test_the_postgres_example_has_a_plain_role_and_a_database_per_service(
    examples: list[Document], rendered: list[Document]
) -> None:
    (cluster,) = of_kind(examples, "Cluster")
    assert cluster["spec"]["enableSuperuserAccess"] is False
    roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    assert set(roles) == {spec.database for spec in SERVICES}
    for role in roles.values():
        assert role["login"] is True
        assert not any(role[p] for p in ("superuser", "createdb", "createrole", "replication", "bypassrls"))
    databases = {(d["spec"]["name"], d["spec"]["owner"]) for d in of_kind(examples, "Database")}
    assert databases == {(spec.database, spec.database) for spec in SERVICES}
    name, namespace = cluster["metadata"]["name"], cluster["metadata"]["namespace"]
    assert (
        named(rendered, "Service", "postgres")["spec"]["externalName"]
        == f"{name}-rw.{namespace}.svc.cluster.local"
    )
