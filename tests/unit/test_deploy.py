"""deploy/ parses and agrees with the code: ports, paths, variables, config, non-root."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.config import Environment, parse_bot_config
from bot.runtime.web import SLACK_PATH

ROOT = Path(__file__).resolve().parents[2]
DOCS = list(yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / "tpu-bot.yaml").read_text()))


def kind(name: str) -> dict[str, Any]:
    return next(d for d in DOCS if d["kind"] == name)


def container() -> dict[str, Any]:
    return kind("Deployment")["spec"]["template"]["spec"]["containers"][0]


def test_every_object_is_there() -> None:
    assert {d["kind"] for d in DOCS} == {
        "ServiceAccount",
        "Secret",
        "ConfigMap",
        "Deployment",
        "Service",
    }
    assert kind("Deployment")["spec"]["replicas"] == 2
    annotations = kind("ServiceAccount")["metadata"]["annotations"]
    assert "iam.gke.io/gcp-service-account" in annotations


def test_ports_and_probes_agree_with_the_web_app() -> None:
    port = container()["ports"][0]
    env = {e["name"]: e.get("value") for e in container()["env"]}
    assert int(env["PORT"]) == port["containerPort"] == Environment().PORT
    assert container()["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container()["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert kind("Service")["spec"]["ports"][0]["targetPort"] == port["name"]
    assert SLACK_PATH == "/slack/events"


def test_variables_are_ones_the_bot_reads() -> None:
    names = set(Environment.model_fields)
    env = {e["name"] for e in container()["env"]}
    secret = set(kind("Secret")["stringData"])
    assert env <= names and secret <= names
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "TPUBOT_DATABASE_URL"} <= secret


def test_the_configmap_is_a_valid_config_mounted_where_the_bot_looks() -> None:
    config = parse_bot_config(yaml.safe_load(kind("ConfigMap")["data"]["tpubot.yaml"]))
    assert config.project_ids
    mount = container()["volumeMounts"][0]["mountPath"]
    env = {e["name"]: e.get("value") for e in container()["env"]}
    assert env["TPUBOT_CONFIG"] == f"{mount}/tpubot.yaml"


def test_the_image_is_non_root_with_a_health_check() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert re.search(r"^USER 10001$", dockerfile, re.M)
    assert kind("Deployment")["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 10001
    assert "/healthz" in dockerfile and "EXPOSE 3000" in dockerfile
    assert 'ENTRYPOINT ["tpu-bot"]' in dockerfile and "ENV PORT=3000" in dockerfile
    assert "TPUBOT_CONFIG=/etc/tpu-bot/tpubot.yaml" in dockerfile
