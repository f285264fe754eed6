"""The Helm chart, rendered by the real helm with several value sets, checked beyond lint.

Each value set in ``helm/stream-align/ci/`` must render manifests that kubeconform finds valid
against the Kubernetes schemas (strict: unknown fields fail), whose config file the service
itself accepts, and whose pod meets the "restricted" Pod Security Standard; wrong values must
fail the install with a message that says what to do. helm and kubeconform are built from the
Go module proxy by ``tools/go_tool.sh`` (cached); without Go these tests are skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_schemas import schema_file, write_standalone

from stream_align.cli.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "stream-align"
VALUE_SETS = sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))
KUBERNETES = ("1.30.0", "1.37.0")  # the oldest and newest Kubernetes the chart is checked on
CRDS = ("ServiceMonitor",)  # not in the Kubernetes schemas: checked by hand below
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                      "persistentVolumeClaim", "projected", "secret"}


def _tool(name: str) -> str:
    done = subprocess.run([str(ROOT / "tools" / "go_tool.sh"), name], capture_output=True,
                          text=True, check=False)
    if done.returncode == 3:
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def helm() -> str:
    return _tool("helm")


@pytest.fixture(scope="module")
def kubeconform() -> str:
    return _tool("kubeconform")


def _render(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, "template", "sa", str(CHART), *args], capture_output=True,
                          text=True, check=False)


def _manifests(helm: str, value_set: str) -> list[dict[str, Any]]:
    done = _render(helm, "--values", str(CHART / "ci" / value_set))
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def _one(docs: list[dict[str, Any]], kind: str, name: str = "sa-stream-align") -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def test_values_schema_is_generated_from_the_settings() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "chart_schema.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("version", KUBERNETES)
@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_manifests_are_valid_kubernetes(helm: str, kubeconform: str, value_set: str,
                                        version: str, tmp_path: Path) -> None:
    docs = _manifests(helm, value_set)
    files = {schema_file(d["kind"], d["apiVersion"]) for d in docs if d["kind"] not in CRDS}
    schemas = write_standalone(version, files, tmp_path / "schemas")
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(yaml.safe_dump_all(docs))
    done = subprocess.run(
        [kubeconform, "-strict", "-summary", "-output", "json", "-kubernetes-version", version,
         "-schema-location", f"{schemas}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
         "-skip", ",".join(CRDS), str(rendered)],
        capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)["summary"]
    assert summary["valid"] == len([d for d in docs if d["kind"] not in CRDS])
    assert summary["invalid"] == summary["errors"] == 0


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_config_file_is_toml_the_service_accepts(helm: str, value_set: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    text = _one(_manifests(helm, value_set), "ConfigMap")["data"]["config.toml"]
    values = yaml.safe_load((CHART / "ci" / value_set).read_text())
    if values.get("config", {}).get("kafka", {}).get("sasl_username"):
        # the password comes from existingSecret as an environment variable, as in the pod
        monkeypatch.setenv("STREAM_ALIGN_KAFKA__SASL_PASSWORD", "from-the-secret")
    assert tomllib.loads(text).get("codec", {}).get("schema_ids") == \
        values.get("config", {}).get("codec", {}).get("schema_ids")
    path = tmp_path / "config.toml"
    path.write_text(text)
    settings = load_settings(path)
    assert settings.observability.http_host == "0.0.0.0"
    for section, fields in values.get("config", {}).items():
        for name, value in fields.items():
            got = getattr(getattr(settings, section), name)
            assert (got.upper() if name == "log_level" else got) == (
                tuple(value) if isinstance(value, list) else value)


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_pod_meets_the_restricted_pod_security_standard(helm: str, value_set: str) -> None:
    pod = _one(_manifests(helm, value_set), "StatefulSet")["spec"]["template"]["spec"]
    assert not {"hostNetwork", "hostPID", "hostIPC"} & pod.keys()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for volume in pod["volumes"]:
        assert set(volume) - {"name"} <= RESTRICTED_VOLUMES, volume
    for container in pod["containers"] + pod.get("initContainers", []):
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["readOnlyRootFilesystem"] is True
        assert not context.get("privileged")
        assert all("hostPort" not in port for port in container.get("ports", []))
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


def test_probes_and_shutdown_fit_the_work(helm: str) -> None:
    docs = _manifests(helm, "default-values.yaml")
    sts = _one(docs, "StatefulSet")
    pod = sts["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert pod["terminationGracePeriodSeconds"] > 96  # the longest batch measured
    headless = _one(docs, "Service", "sa-stream-align-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert sts["spec"]["serviceName"] == "sa-stream-align-headless"
    assert _one(docs, "PodDisruptionBudget")["spec"]["selector"] == sts["spec"]["selector"]
    model = next(v for v in pod["volumes"] if v["name"] == "model")
    assert model["persistentVolumeClaim"] == {"claimName": "stream-align-model", "readOnly": True}


def test_secured_install_takes_credentials_and_certificates(helm: str) -> None:
    pod = _one(_manifests(helm, "tls-sasl-values.yaml"),
               "StatefulSet")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": "stream-align-credentials"}}]
    assert container["image"].startswith("registry.example.com/stream-align@sha256:")
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["kafka-ca"]["mountPath"] == "/etc/stream-align/tls/ca"
    assert mounts["model"]["subPath"] == "v3"
    assert {v["name"] for v in pod["volumes"]} >= {"kafka-ca", "kafka-client"}


def test_monitoring_selects_the_metrics_service(helm: str) -> None:
    docs = _manifests(helm, "monitoring-values.yaml")
    monitor = _one(docs, "ServiceMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"].items()
    (service,) = [d for d in docs if d["kind"] == "Service"
                  and selector <= d["metadata"]["labels"].items()]  # one scrape per pod
    assert service["metadata"]["name"] == "sa-stream-align"
    assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    policy = _one(docs, "NetworkPolicy")
    assert policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"]
    assert any(rule["ports"][0]["port"] == 53 for rule in policy["spec"]["egress"])


@pytest.mark.parametrize(("args", "message"), [
    ((), "model.existingClaim (or model.volume) is required"),
    (("--set", "model.existingClaim=m", "--set", "replicas=2"),
     "replicas: 2 is not supported: one replica aligns the whole pair of graphs"),
    (("--set", "model.existingClaim=m", "--set", "config.observability.log_format=xml"),
     "at '/config/observability/log_format': value must be one of 'json', 'console'"),
    (("--set", "model.existingClaim=m", "--set", "config.kafka.sasl_password=hunter2"),
     "at '/config/kafka': additional properties 'sasl_password' not allowed"),
    (("--set", "model.existingClaim=m", "--set", "config.runner.batch_max_records=0"),
     "at '/config/runner/batch_max_records'"),
    (("--set", "model.existingClaim=m", "--set", "image.pullPolicy=Sometimes"),
     "at '/image/pullPolicy'"),
])
def test_wrong_values_are_refused_with_a_clear_message(helm: str, args: tuple[str, ...],
                                                       message: str) -> None:
    done = _render(helm, *args)
    assert done.returncode != 0
    assert message in done.stderr
