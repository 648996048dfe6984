"""deploy/ agrees with the code: each kustomize overlay as `kubectl kustomize` renders it, and the
Dockerfile as parsed (ports, probe paths, variables, config, secrets, non-root, read-only)."""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.cli import cli
from bot.config import Environment, Settings, load_environment, parse_bot_config
from bot.runtime.httpserver import serve_in_thread
from bot.runtime.metrics import Metrics
from bot.runtime.web import SLACK_PATH, WebApp
from bot.storage.store import normalize_url

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
OVERLAYS = ("socket-mode", "http-mode", "socket-mode-postgres", "http-mode-postgres")
STAND_INS = ("tpu_emulator", "localslack", "devstack")
DATABASE_POLICY = "tpu-bot-database"
DATABASE_CIDR_PATH = "/spec/egress/0/to/0/ipBlock/cidr"
LOCK = ROOT / "deploy" / "requirements.txt"
BUILD_LOCK = ROOT / "deploy" / "requirements-build.txt"
ENV_NAMES = set(Environment.model_fields)

# ----- rendering ---------------------------------------------------------------------------------


@functools.cache
def _render(overlay: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        ["kubectl", "kustomize", str(KUBERNETES / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {overlay} failed:\n{result.stderr}"
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


class Rendered:
    """One overlay's objects, with the lookups the checks need."""

    def __init__(self, name: str) -> None:
        if shutil.which("kubectl") is None:
            pytest.skip("kubectl is not installed: the kustomize overlays cannot be rendered")
        self.name = name
        self.docs = _render(name)
        self.socket_mode = name.startswith("socket-mode")
        self.postgres = name.endswith("-postgres")

    def kinds(self) -> set[str]:
        return {d["kind"] for d in self.docs}

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def one(self, kind: str) -> dict[str, Any]:
        found = self.all(kind)
        assert len(found) == 1, f"{self.name}: expected one {kind}, found {len(found)}"
        return found[0]

    @property
    def deployment(self) -> dict[str, Any]:
        return self.one("Deployment")

    @property
    def pod(self) -> dict[str, Any]:
        return self.deployment["spec"]["template"]["spec"]

    @property
    def container(self) -> dict[str, Any]:
        containers = self.pod["containers"]
        assert len(containers) == 1
        return containers[0]

    def env(self) -> dict[str, dict[str, Any]]:
        return {e["name"]: e for e in self.container.get("env", [])}

    def secret_data(self, name: str) -> dict[str, str]:
        secret = next(s for s in self.all("Secret") if s["metadata"]["name"] == name)
        return {**secret.get("data", {}), **secret.get("stringData", {})}

    def resolved_env(self) -> dict[str, str]:
        """The environment the container would see, secrets resolved from the rendered Secrets."""
        out = {}
        for name, entry in self.env().items():
            if "value" in entry:
                out[name] = entry["value"]
            else:
                ref = entry["valueFrom"]["secretKeyRef"]
                out[name] = self.secret_data(ref["name"])[ref["key"]]
        return out

    def http_port(self) -> dict[str, Any]:
        return next(p for p in self.container["ports"] if p["name"] == "http")

    def volume(self, name: str) -> dict[str, Any]:
        return next(v for v in self.pod["volumes"] if v["name"] == name)

    def writable_mounts(self) -> list[PurePosixPath]:
        return [
            PurePosixPath(m["mountPath"])
            for m in self.container["volumeMounts"]
            if not m.get("readOnly", False)
        ]


@pytest.fixture(params=OVERLAYS)
def r(request: pytest.FixtureRequest) -> Rendered:
    return Rendered(request.param)


def under(path: str | PurePosixPath, mounts: list[PurePosixPath]) -> bool:
    path = PurePosixPath(path)
    return any(path == m or m in path.parents for m in mounts)


def test_the_overlays_are_the_documented_ones() -> None:
    found = {p.name for p in (KUBERNETES / "overlays").iterdir() if p.is_dir()}
    assert found == set(OVERLAYS)
    components = {p.name for p in (KUBERNETES / "components").iterdir() if p.is_dir()}
    assert components == {"socket-mode", "http-mode", "postgres"}


# ----- Kubernetes: each overlay ------------------------------------------------------------------


def test_each_overlay_renders_the_objects_its_mode_needs(r: Rendered) -> None:
    common = {
        "ServiceAccount",
        "ConfigMap",
        "Secret",
        "Deployment",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    expected = set(common)
    if not r.socket_mode:
        expected |= {"Service", "Ingress"}  # Slack must reach the pod
    if not r.postgres:
        expected |= {"PersistentVolumeClaim"}  # the SQLite file outlives the pod
    assert r.kinds() == expected
    names = [(d["kind"], d["metadata"]["name"]) for d in r.docs]
    assert len(names) == len(set(names))


def test_the_service_account_is_bound_to_a_google_one(r: Rendered) -> None:
    account = r.one("ServiceAccount")
    assert account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].endswith(
        ".iam.gserviceaccount.com"
    )
    assert r.pod["serviceAccountName"] == account["metadata"]["name"]


def test_ports_and_probes_are_the_ones_the_web_app_serves(r: Rendered) -> None:
    port = r.http_port()
    env = r.resolved_env()
    # PORT is set explicitly and is the bot's default, so image, pod and code agree.
    assert int(env["PORT"]) == port["containerPort"] == Environment().PORT
    assert port["containerPort"] == load_environment(env).PORT
    probes = {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    for probe, path in probes.items():
        get = r.container[probe]["httpGet"]
        assert (get["path"], get["port"]) == (path, "http"), probe
    annotations = r.deployment["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == port["containerPort"]
    # The paths are answered by the bot's own WSGI app, not merely spelled the same.
    web = WebApp(None, Metrics(), ready=lambda: (True, "ok"))
    for path in [*probes.values(), annotations["prometheus.io/path"]]:
        statuses: list[str] = []
        web({"PATH_INFO": path, "REQUEST_METHOD": "GET"}, lambda s, h, out=statuses: out.append(s))
        assert statuses[0].startswith("200"), path


def test_every_variable_is_one_the_bot_reads_and_every_secret_reference_resolves(
    r: Rendered,
) -> None:
    assert set(r.env()) <= ENV_NAMES
    assert "envFrom" not in r.container  # every variable is named, so this check sees them all
    for secret in r.all("Secret"):
        keys = {*secret.get("data", {}), *secret.get("stringData", {})}
        assert keys and keys <= ENV_NAMES, secret["metadata"]["name"]
    for name, entry in r.env().items():
        if "valueFrom" in entry:
            ref = entry["valueFrom"]["secretKeyRef"]
            assert ref["key"] == name
            assert name in r.secret_data(ref["name"]), f"{name}: no such key in {ref['name']}"
    # Secrets come from Secrets, never as literals in the Deployment.
    for secret in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        assert "value" not in r.env().get(secret, {})


def test_the_config_map_is_a_valid_config_mounted_where_the_bot_looks(r: Rendered) -> None:
    config_map = r.one("ConfigMap")
    config = parse_bot_config(yaml.safe_load(config_map["data"]["tpubot.yaml"]))
    assert config.project_ids
    volume = next(v for v in r.pod["volumes"] if "configMap" in v)
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    mount = next(m for m in r.container["volumeMounts"] if m["name"] == volume["name"])
    assert mount["readOnly"] is True
    assert r.resolved_env()["TPUBOT_CONFIG"] == f"{mount['mountPath']}/tpubot.yaml"


def test_the_mode_is_the_one_the_overlay_names(r: Rendered) -> None:
    env = r.resolved_env()
    bot = parse_bot_config(yaml.safe_load(r.one("ConfigMap")["data"]["tpubot.yaml"]))
    settings = Settings(env=load_environment(env), bot=bot)
    assert settings.socket_mode is r.socket_mode
    assert "SLACK_BOT_TOKEN" in env
    if r.socket_mode:
        assert env["SLACK_APP_TOKEN"].startswith("xapp-")
        assert "SLACK_SIGNING_SECRET" not in env
    else:
        # Without the signing secret `serve` refuses to start in HTTP mode.
        assert "SLACK_SIGNING_SECRET" in env and "SLACK_APP_TOKEN" not in env


def test_http_mode_routes_only_the_slack_path_to_the_pods_port(r: Rendered) -> None:
    if r.socket_mode:
        assert not r.all("Service") and not r.all("Ingress")
        return
    service = r.one("Service")
    labels = r.deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] == r.http_port()["name"]
    paths = [path for rule in r.one("Ingress")["spec"]["rules"] for path in rule["http"]["paths"]]
    assert [(p["path"], p["pathType"]) for p in paths] == [(SLACK_PATH, "Exact")]
    backend = paths[0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] == service_port["name"]


def test_the_database_is_sqlite_on_a_volume_or_postgres_from_a_secret(r: Rendered) -> None:
    entry = r.env()["TPUBOT_DATABASE_URL"]
    url = r.resolved_env()["TPUBOT_DATABASE_URL"]
    spec = r.deployment["spec"]
    if r.postgres:
        ref = entry["valueFrom"]["secretKeyRef"]  # the password stays in a Secret
        assert ref["name"] != "tpu-bot"  # one of its own, often written by the database's owner
        assert normalize_url(url).startswith("postgresql+psycopg://")
        assert spec["replicas"] == 2
        assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        assert not r.all("PersistentVolumeClaim")
    else:
        assert url.startswith("sqlite:////")
        db_dir = PurePosixPath(url.removeprefix("sqlite:///")).parent
        mount = next(m for m in r.container["volumeMounts"] if m["mountPath"] == str(db_dir))
        claim = r.volume(mount["name"])["persistentVolumeClaim"]["claimName"]
        assert claim == r.one("PersistentVolumeClaim")["metadata"]["name"]
        assert not mount.get("readOnly", False)
        # One process owns a SQLite file: one replica, and the old pod goes before the new one.
        assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"


def test_a_disruption_budget_covers_the_pods(r: Rendered) -> None:
    pdb = r.one("PodDisruptionBudget")["spec"]
    labels = r.deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    if r.postgres:
        assert pdb == {**pdb, "minAvailable": 1} and "maxUnavailable" not in pdb
    else:
        # One replica: a minAvailable of 1 would block every node drain.
        assert pdb["maxUnavailable"] == 1 and "minAvailable" not in pdb


def _ports(rule: dict[str, Any]) -> set[Any]:
    return {p["port"] for p in rule["ports"]}


def test_the_network_policy_lets_in_and_out_only_what_the_bot_needs(r: Rendered) -> None:
    # Policies add up: the base's, and with postgres the database's own (egress only).
    policies = {p["metadata"]["name"]: p["spec"] for p in r.all("NetworkPolicy")}
    assert set(policies) == {"tpu-bot"} | ({DATABASE_POLICY} if r.postgres else set())
    labels = r.deployment["spec"]["template"]["metadata"]["labels"]
    for spec in policies.values():
        assert spec["podSelector"]["matchLabels"].items() <= labels.items()
    policy = policies["tpu-bot"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    # Ingress: only the bot's port; from the ingress controller only in HTTP mode.
    namespaces = set()
    for rule in policy["ingress"]:
        assert _ports(rule) == {r.http_port()["name"]}
        for peer in rule["from"]:
            if "namespaceSelector" in peer:
                namespaces.add(
                    peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                )
    assert ("ingress-nginx" in namespaces) is not r.socket_mode
    # Egress: DNS, the metadata server (Workload Identity), HTTPS to public addresses, the database.
    private = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
    by_port: dict[int, list[dict[str, Any]]] = {}
    for rule in (rule for spec in policies.values() for rule in spec.get("egress", [])):
        for port in _ports(rule):
            by_port.setdefault(port, []).append(rule)
    assert set(by_port) == {53, 80, 988, 443} | ({5432} if r.postgres else set())
    for port in (80, 988):  # link-local metadata server only, never the internet
        blocks = [peer["ipBlock"]["cidr"] for rule in by_port[port] for peer in rule["to"]]
        assert all(ipaddress.ip_network(b).is_link_local for b in blocks)
    for rule in by_port[443]:
        for peer in rule["to"]:
            excepted = [ipaddress.ip_network(n) for n in peer["ipBlock"].get("except", [])]
            assert all(any(p.subnet_of(e) for e in excepted) for p in private)


def _database_egress(r: Rendered) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    (policy,) = [p for p in r.all("NetworkPolicy") if p["metadata"]["name"] == DATABASE_POLICY]
    assert policy["spec"]["policyTypes"] == ["Egress"] and "ingress" not in policy["spec"]
    # One rule with the address first: the path docs/deploy.md tells overlays to patch.
    (rule,) = policy["spec"]["egress"]
    assert [(p["port"], p["protocol"]) for p in rule["ports"]] == [(5432, "TCP")]
    assert set(DATABASE_CIDR_PATH.split("/")[:3]) == {"", "spec", "egress"}
    return [ipaddress.ip_network(peer["ipBlock"]["cidr"]) for peer in rule["to"]]


def test_postgres_egress_goes_only_to_the_databases_address(r: Rendered) -> None:
    if not r.postgres:
        assert not [p for p in r.all("NetworkPolicy") if p["metadata"]["name"] == DATABASE_POLICY]
        return
    blocks = _database_egress(r)
    everywhere = ipaddress.ip_network("0.0.0.0/0")
    assert blocks and everywhere not in blocks
    for block in blocks:
        assert block.is_private and block.num_addresses <= 2**16, block
    # The default is the template URL's host, so the two templates agree until both are set.
    host = urlsplit(r.secret_data("tpu-bot-database")["TPUBOT_DATABASE_URL"]).hostname
    assert host is not None and any(ipaddress.ip_address(host) in b for b in blocks)


def test_the_guides_database_address_patch_sets_the_egress(tmp_path: Path) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed: the kustomize overlays cannot be rendered")
    guide = (ROOT / "docs" / "deploy.md").read_text()
    block = re.search(r"# PostgreSQL shapes: in your overlay\n(.*?)```", guide, re.S)
    assert block is not None
    patches = yaml.safe_load(textwrap.dedent(block.group(1)))["patches"]
    (patch,) = [p for p in patches if p["target"]["name"] == DATABASE_POLICY]
    (operation,) = yaml.safe_load(patch["patch"])
    assert operation["path"] == DATABASE_CIDR_PATH
    overlay = {
        "resources": [os.path.relpath(KUBERNETES / "overlays" / "http-mode-postgres", tmp_path)],
        "patches": patches,
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    result = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (policy,) = [
        d
        for d in yaml.safe_load_all(result.stdout)
        if d and d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == DATABASE_POLICY
    ]
    cidrs = [peer["ipBlock"]["cidr"] for peer in policy["spec"]["egress"][0]["to"]]
    assert cidrs == [operation["value"]]
    default = _database_egress(Rendered("http-mode-postgres"))
    assert ipaddress.ip_network(operation["value"]) not in default  # the patch changed something


def test_no_kubernetes_api_token_is_mounted(r: Rendered) -> None:
    """The bot never calls the Kubernetes API; Workload Identity needs no token of its own."""
    assert r.pod["automountServiceAccountToken"] is False
    assert r.one("ServiceAccount")["automountServiceAccountToken"] is False
    mounts = [m["mountPath"] for m in r.container["volumeMounts"]]
    assert not [m for m in mounts if m.startswith("/var/run/secrets")]


def test_the_pod_runs_as_the_images_non_root_user_on_a_read_only_root(r: Rendered) -> None:
    pod_security = r.pod["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["runAsUser"] == image_user() != 0
    container_security = r.container["securityContext"]
    assert container_security["readOnlyRootFilesystem"] is True
    assert container_security["allowPrivilegeEscalation"] is False
    assert container_security["capabilities"]["drop"] == ["ALL"]
    # Everywhere the process writes is a mounted volume: HOME and TMPDIR as the image sets them,
    # and the SQLite file's directory.
    writable = r.writable_mounts()
    env = {**docker_env(), **r.resolved_env()}
    assert under(env["HOME"], writable) and under(env["TMPDIR"], writable)
    for mount in writable:
        volume = r.volume(
            next(m["name"] for m in r.container["volumeMounts"] if m["mountPath"] == str(mount))
        )
        assert "emptyDir" in volume or "persistentVolumeClaim" in volume
    assert r.container["image"]


def test_the_pod_runs_the_images_command_with_real_options(r: Rendered) -> None:
    *options, command = r.container["args"]
    assert [command] == docker_json("CMD") and command in cli.commands
    assert set(options) <= {opt for param in cli.params for opt in param.opts}
    assert "--log-json" in options


def test_the_pod_has_resources_and_time_to_finish_a_job(r: Rendered) -> None:
    resources = r.container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]
    assert r.pod["terminationGracePeriodSeconds"] >= 30


# ----- the Dockerfile ----------------------------------------------------------------------------


def _instructions() -> Iterator[tuple[str, str]]:
    logical = ""
    for line in DOCKERFILE.read_text().splitlines():
        if not logical and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            logical += line.rstrip()[:-1] + " "
            continue
        logical += line
        keyword, _, rest = logical.strip().partition(" ")
        yield keyword.upper(), rest.strip()
        logical = ""


def stages() -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for keyword, rest in _instructions():
        if keyword == "FROM":
            out.append([])
        if out:  # before the first FROM: only global ARGs (global_args)
            out[-1].append((keyword, rest))
    return out


def global_args() -> dict[str, str]:
    """The ARGs before the first FROM, with their defaults."""
    args: dict[str, str] = {}
    for keyword, rest in _instructions():
        if keyword == "FROM":
            break
        assert keyword == "ARG", f"{keyword} before the first FROM"
        name, _, default = rest.partition("=")
        args[name] = default
    return args


def _all(keyword: str, stage: list[tuple[str, str]] | None = None) -> list[str]:
    return [rest for k, rest in (stage or stages()[-1]) if k == keyword]


def docker_json(keyword: str) -> Any:
    (value,) = _all(keyword)
    return json.loads(value)


def docker_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in _all("ENV"):
        for pair in shlex.split(rest):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def image_user() -> int:
    user = _all("USER")[-1]
    uid = user.split(":")[0]
    assert uid.isdigit(), "a numeric user, so Kubernetes' runAsNonRoot can verify it"
    return int(uid)


def test_the_build_stage_copies_only_the_product_and_builds_a_wheel() -> None:
    build, runtime = stages()
    assert build[0][1].endswith(" AS build")
    sources = []
    for rest in _all("COPY", build):
        *src, _dest = [a for a in shlex.split(rest) if not a.startswith("--")]
        sources += [s.rstrip("/") for s in src]
    locks = sorted(str(p.relative_to(ROOT)) for p in (LOCK, BUILD_LOCK))
    assert sorted(sources) == sorted(["README.md", "bot", "pyproject.toml", *locks])
    backend, wheel = _all("RUN", build)
    # The build backend from its own hash-locked file, then the wheel with nothing fetched.
    assert "--require-hashes" in backend and "--no-deps" in backend
    assert f"-r {BUILD_LOCK.relative_to(ROOT)}" in backend
    assert "pip wheel" in wheel and "--no-deps" in wheel and "--no-build-isolation" in wheel
    assert "pip install" not in wheel
    # The runtime stage takes nothing from the build context: only the build stage's output.
    for rest in _all("COPY", runtime):
        assert "--from=build" in rest
    installs = [run for run in _all("RUN", runtime) if "pip install" in run]
    assert len(installs) == 1 and "from=build" in installs[0]
    for keyword, rest in [*build, *runtime]:
        for stand_in in STAND_INS:
            assert stand_in not in rest, f"{keyword} {rest}"
    # The build context itself is only the product (BuildKit reads Dockerfile.dockerignore).
    lines = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().splitlines()
    ignore = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*"
    assert {line for line in ignore if line.startswith("!")} == {
        "!pyproject.toml",
        "!README.md",
        "!bot/",
        *(f"!{lock}" for lock in locks),
    }


def test_the_runtime_installs_exactly_the_hash_locked_requirements_then_the_product() -> None:
    _build, runtime = stages()
    (install,) = [run for run in _all("RUN", runtime) if "pip install" in run]
    commands = [c.strip() for c in install.split("&&")]
    pips = [c for c in commands if c.startswith("pip ")]
    # The wheel's [postgres] extra is not asked for: the lock holds it, hashed.
    assert pips == [
        f"pip install --no-cache-dir --require-hashes --no-deps -r /wheels/{LOCK.name}",
        "pip install --no-cache-dir --no-deps /wheels/tpu_bot-*.whl",
        "pip check",
    ]
    # Into a virtual environment that is first on PATH (where `tpu-bot` and `python` are found).
    venv = docker_env()["VIRTUAL_ENV"]
    assert f"python3 -m venv {venv}" in commands[0]
    assert docker_env()["PATH"].split(":")[0] == f"{venv}/bin"
    # The build stage hands the lock over beside the wheel.
    build, _runtime = stages()
    assert f"cp {LOCK.relative_to(ROOT)} /wheels/" in _all("RUN", build)[-1]


def test_the_base_image_is_pinned_by_digest_and_can_be_swapped() -> None:
    """Production builds on a digest (the bytes, not a moving tag); CI passes its own base."""
    base = global_args()["BASE"]
    image, _, digest = base.partition("@")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), base
    # The Python the lock and the type checks are for (pyproject: requires-python, mypy).
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    python = pyproject["tool"]["mypy"]["python_version"]
    assert pyproject["project"]["requires-python"] == f">={python}"
    # The Debian release CI's own base is debootstrapped from (scripts/image_check.sh).
    release = re.search(r"^RELEASE=(\w+)$", (ROOT / "scripts" / "image_check.sh").read_text(), re.M)
    assert release is not None
    assert re.fullmatch(rf"python:{re.escape(python)}-slim-{release[1]}", image), image
    froms = [rest.split()[0] for keyword, rest in _instructions() if keyword == "FROM"]
    assert froms == ["${BASE}", "${BASE}"]


# ----- the lock ----------------------------------------------------------------------------------


@dataclass
class Pin:
    version: str
    hashes: list[str] = field(default_factory=list)
    via: set[str] = field(default_factory=set)


PIN = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)(\s*;[^\\]+)?\s*\\")
PYPROJECT_VIA = "tpu-bot (pyproject.toml)"


def read_lock(path: Path) -> tuple[list[str], dict[str, Pin]]:
    """A `uv pip compile --generate-hashes` file: its header and its pins by normalized name.
    Any line that is not a pin, a hash, a `# via` annotation or a comment fails: no options
    (index URLs, find-links) belong in it."""
    header: list[str] = []
    pins: dict[str, Pin] = {}
    pin: Pin | None = None
    for line in path.read_text().splitlines():
        if match := PIN.fullmatch(line):
            pin = pins[canonicalize_name(match["name"])] = Pin(match["version"])
        elif pin is None:
            assert line.startswith("#"), line
            header.append(line)
        elif match := re.fullmatch(r"\s+--hash=sha256:([0-9a-f]{64})( \\)?", line):
            pin.hashes.append(match[1])
        elif match := re.fullmatch(r"\s+# via (\S.*)|\s+#   (\S.*)", line):
            pin.via.add(match[1] or match[2])
        else:
            assert re.fullmatch(r"\s+# via", line), f"{path.name}: unexpected line {line!r}"
    return header, pins


def test_the_lock_is_current_with_pyproject() -> None:
    """deploy/requirements.txt holds exactly pyproject's dependencies and the postgres extra (at
    versions they allow), everything they pull in, each with hashes; `make lock` rewrites it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [
        Requirement(r)
        for r in [*project["dependencies"], *project["optional-dependencies"]["postgres"]]
    ]
    header, pins = read_lock(LOCK)
    assert any(line.strip("# ") == "make lock" for line in header), header
    direct = {name for name, pin in pins.items() if PYPROJECT_VIA in pin.via}
    assert direct == {canonicalize_name(r.name) for r in wanted}, "run `make lock`"
    for requirement in wanted:
        version = pins[canonicalize_name(requirement.name)].version
        assert requirement.specifier.contains(version, prereleases=True), (requirement, version)
    assert "tpu-bot" not in pins  # the product is installed from its wheel, after the lock
    for name, pin in pins.items():
        assert pin.hashes, f"{name} has no hash"
        # Each pin is there for something: pyproject, or another pin of the lock.
        assert pin.via and pin.via <= {PYPROJECT_VIA, *pins}, (name, pin.via)
    # The dev extra (websockets, selenium, uv) and the test tools never enter the image.
    for dev in (
        *project["optional-dependencies"]["dev"],
        *project["optional-dependencies"]["test"],
    ):
        name = canonicalize_name(Requirement(dev).name)
        assert name not in pins or name in direct, name


def test_the_build_lock_is_current_with_the_build_backend() -> None:
    system = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    header, pins = read_lock(BUILD_LOCK)
    assert any(line.strip("# ") == "make lock" for line in header), header
    for requirement in map(Requirement, system["requires"]):
        pin = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(pin.version, prereleases=True), "run `make lock`"
    assert all(pin.hashes for pin in pins.values())


def test_make_lock_writes_both_locks_for_the_images_python_with_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lock:.*\n((?:\t.*\n|  .*\n)+)", makefile, re.M)
    assert recipe is not None
    text = makefile[makefile.index("UV_COMPILE =") : recipe.end()]
    python = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["python_version"]
    for option in ("--generate-hashes", f"--python-version {python}", "--extra postgres"):
        assert option in text, option
    for lock in (LOCK, BUILD_LOCK):
        assert f"--output-file {lock.relative_to(ROOT)}" in text
    assert "index-url" not in text and "find-links" not in text  # never a mirror in the repo


def test_the_product_imports_without_the_stand_ins() -> None:
    """The image holds bot/ only: `tpu-bot serve` and every product module import without the
    emulator, local Slack or devstack."""
    script = f"""
import importlib, importlib.abc, pkgutil, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {STAND_INS!r}:
            raise ImportError("stand-in imported: " + name)
sys.meta_path.insert(0, Block())
import bot
for module in pkgutil.walk_packages(bot.__path__, "bot."):
    importlib.import_module(module.name)
from bot.cli import cli
cli.main(args=["serve", "--help"], prog_name="tpu-bot", standalone_mode=False)
"""
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "Run the bot" in result.stdout


def test_the_image_runs_the_console_script_as_a_numeric_non_root_user() -> None:
    assert image_user() != 0
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert docker_json("ENTRYPOINT") == ["tpu-bot"]
    assert "tpu-bot" in project["scripts"]
    assert docker_json("CMD") == ["serve"] and "serve" in cli.commands
    assert "postgres" in project["optional-dependencies"]


def test_the_image_writes_only_to_its_volumes() -> None:
    env = docker_env()
    volumes = [PurePosixPath(v) for v in json.loads(_all("VOLUME")[-1])]
    assert under(env["HOME"], volumes) and under(env["TMPDIR"], volumes)
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    url = env["TPUBOT_DATABASE_URL"]
    assert url.startswith("sqlite:////")
    assert under(PurePosixPath(url.removeprefix("sqlite:///")).parent, volumes)
    assert under(_all("WORKDIR")[-1], volumes)  # the default ./tpubot.db lands on a volume too
    bot_env = {k: v for k, v in env.items() if k in ENV_NAMES}
    assert set(bot_env) == {"PORT", "TPUBOT_CONFIG", "TPUBOT_DATABASE_URL"}
    assert int(env["PORT"]) == Environment().PORT
    assert _all("EXPOSE") == [env["PORT"]]


@pytest.fixture
def web_server() -> Iterator[int]:
    server = serve_in_thread(WebApp(None, Metrics(), ready=lambda: (True, "ok")))
    yield server.port
    server.close()


@pytest.fixture
def wrong_server() -> Iterator[int]:
    def not_found(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]

    server = serve_in_thread(not_found)
    yield server.port
    server.close()


def test_the_health_check_asks_the_bots_healthz_on_port(web_server: int, wrong_server: int) -> None:
    rest = _all("HEALTHCHECK")[0]
    assert " CMD " in rest
    argv = json.loads(rest.split(" CMD ", 1)[1])
    assert argv[0] == "python" and "curl" not in rest and "wget" not in rest
    assert "/healthz" in argv[-1] and "PORT" in argv[-1]
    command = [sys.executable, *argv[1:]]
    env = {**os.environ, "PORT": str(web_server)}
    ok = subprocess.run(command, env=env, capture_output=True, timeout=30, check=False)
    assert ok.returncode == 0, ok.stderr
    env["PORT"] = str(wrong_server)
    failing = subprocess.run(command, env=env, capture_output=True, timeout=30, check=False)
    assert failing.returncode != 0


def test_the_deploy_guide_names_only_files_and_overlays_that_exist() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    paths = set(re.findall(r"`(deploy/[\w./-]+)`", guide))
    assert paths and all((ROOT / p.rstrip("/")).exists() for p in paths), paths
    overlays = set(re.findall(r"`overlays/([\w-]+)`", guide))
    assert overlays == set(OVERLAYS)
    components = set(re.findall(r"components/([\w-]+)", guide))
    for name in re.findall(r"components/\{([\w,-]+)\}", guide):
        components |= set(name.split(","))
    assert components <= {p.name for p in (KUBERNETES / "components").iterdir()}


def test_the_guides_own_overlay_renders_with_your_config_and_without_secret_templates(
    tmp_path: Path,
) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed: the kustomize overlays cannot be rendered")
    guide = (ROOT / "docs" / "deploy.md").read_text()
    block = re.search(r"# my-tpu-bot/kustomization.yaml\n(.*?)```", guide, re.S)
    assert block is not None
    text = "\n".join(line.removeprefix("   ") for line in block.group(1).splitlines())
    remote = re.search(r"https://github\.com/ORG/tpu-bot//(\S+)\?ref=\S+", text)
    assert remote is not None
    local = os.path.relpath(ROOT / remote.group(1), tmp_path)
    (tmp_path / "kustomization.yaml").write_text(text.replace(remote.group(0), local))
    (tmp_path / "tpubot.yaml").write_text(
        "projects: [{id: my-project-1}]\nchannels: {alerts: C0MINE, approvals: C0ONCALL}\n"
    )
    result = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert not [d for d in docs if d["kind"] == "Secret"]  # created outside git, not overwritten
    assert {d["metadata"]["namespace"] for d in docs} == {"tpu-bot"}
    (config_map,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert parse_bot_config(yaml.safe_load(config_map["data"]["tpubot.yaml"])).project_ids == (
        "my-project-1",
    )
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith("/tpu-bot:0.1.0")
    (account,) = [d for d in docs if d["kind"] == "ServiceAccount"]
    annotation = account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
    assert "YOUR-PROJECT" not in annotation
