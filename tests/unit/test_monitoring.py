"""deploy/monitoring/ asks only for metrics and labels the bot really serves on /metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.metrics import MetricWrapperBase

from bot.core.records import ApprovalStatus
from bot.runtime.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
DASHBOARD = json.loads((MONITORING / "grafana-dashboard.json").read_text())
RULES = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
# Labels Prometheus attaches to every scraped series (pod-annotation, operator and GMP discovery).
TARGET_LABELS = {"instance", "namespace", "pod", "container", "cluster", "location", "project_id"}
# The bot's `job` label collides with the scrape job's, so Prometheus stores it as exported_job.
RENAMED = {"exported_job": "job"}
SELECTOR = re.compile(r"\b(tpubot_[a-zA-Z0-9_]+)\s*(\{[^}]*\})?")
LABEL_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')


def served() -> dict[str, set[str]]:
    """Each sample name /metrics serves, with its labels; every labelled metric touched once."""
    metrics = Metrics()
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase) and value._labelnames:
            value.labels(*["x"] * len(value._labelnames))
    text = generate_latest(metrics.registry).decode()
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}
    labels: dict[str, set[str]] = {name: set() for name in names}
    for family in metrics.registry.collect():
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    return labels


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in DASHBOARD["panels"] for t in p.get("targets", [])]


def rules() -> list[dict[str, Any]]:
    return [rule for group in RULES["groups"] for rule in group["rules"]]


def all_exprs() -> list[str]:
    return dashboard_exprs() + [rule["expr"] for rule in rules()]


def job_names() -> set[str]:
    """The scheduled jobs, as bot/app.py names them."""
    return set(re.findall(r'jobs\.add\(\s*"(\w+)"', (ROOT / "bot" / "app.py").read_text()))


def test_every_metric_named_is_served() -> None:
    serving = served()
    for path in ("grafana-dashboard.json", "alerts.yaml"):
        named = set(SELECTOR.findall((MONITORING / path).read_text()))
        missing = {name for name, _ in named} - set(serving)
        assert not missing, f"{path} names metrics /metrics does not serve: {missing}"


def test_every_label_matched_is_one_the_metric_has() -> None:
    serving = served()
    statuses = {s.value for s in ApprovalStatus}
    for expr in all_exprs():
        for name, selector in SELECTOR.findall(expr):
            for label, _, value in LABEL_MATCHER.findall(selector):
                label = RENAMED.get(label, label)
                assert label in serving[name] | TARGET_LABELS, f"{name} has no label {label}"
                if label == "job":
                    assert value in job_names(), f"no scheduled job {value!r}"
                if name == "tpubot_approvals" and label == "status":
                    assert set(value.split("|")) <= statuses, value


def test_no_query_uses_the_scrape_jobs_label_for_the_bots_job() -> None:
    texts = [*all_exprs()]
    texts += [t.get("legendFormat", "") for p in DASHBOARD["panels"] for t in p.get("targets", [])]
    for text in texts:
        assert not re.search(r"(?<![A-Za-z0-9_])job(?![A-Za-z0-9_])", text), text


def test_expressions_are_balanced() -> None:
    pairs = {")": "(", "]": "[", "}": "{"}
    for expr in all_exprs():
        stack: list[str] = []
        for char in re.sub(r'"[^"]*"', '""', expr):
            if char in "([{":
                stack.append(char)
            elif char in pairs:
                assert stack and stack.pop() == pairs[char], expr
        assert not stack, expr


def test_the_rules_file_has_the_alerts_on_call_needs() -> None:
    assert isinstance(RULES["groups"], list) and RULES["groups"]
    for group in RULES["groups"]:
        assert set(group) <= {"name", "interval", "rules", "limit"} and group["name"]
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names))
    for rule in rules():
        assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
        assert re.fullmatch(r"TpuBot[A-Z][A-Za-z]+", rule["alert"])
        assert isinstance(rule["expr"], str) and "tpubot_" in rule["expr"]
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"])
    by_name = {rule["alert"]: rule["expr"] for rule in rules()}
    assert {
        "TpuBotWatcherStalled",
        "TpuBotOutboxGrowing",
        "TpuBotTpuApiFailing",
        "TpuBotApprovedNotExecuted",
        "TpuBotApprovalsNotDraining",
        "TpuBotNoLeader",
    } <= set(by_name)
    stalled = by_name["TpuBotWatcherStalled"]
    assert 'exported_job="poll_nodes"' in stalled and 'outcome="ok"' in stalled
    assert "3 * max(tpubot_job_interval_seconds" in stalled
    assert by_name["TpuBotNoLeader"] == "sum(tpubot_leader) == 0"
    assert "tpubot_outbox_depth" in by_name["TpuBotOutboxGrowing"]
    assert "tpubot_tpu_api_calls_total" in by_name["TpuBotTpuApiFailing"]


@pytest.mark.parametrize(
    "family",
    [
        "tpubot_ticks_total",
        "tpubot_tick_seconds_bucket",
        "tpubot_tpu_api_calls_total",
        "tpubot_slack_posts_total",
        "tpubot_outbox_depth",
        "tpubot_open_incidents",
        "tpubot_pending_approvals",
        "tpubot_leader",
    ],
)
def test_the_dashboard_shows(family: str) -> None:
    assert any(family in expr for expr in dashboard_exprs())


def test_the_dashboard_shows_every_metric_the_bot_serves() -> None:
    shown = {name for expr in dashboard_exprs() for name, _ in SELECTOR.findall(expr)}
    families = {re.sub(r"_(total|bucket|sum|count|created)$", "", name) for name in served()}
    shown_families = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in shown}
    assert families <= shown_families


def test_the_dashboard_is_a_grafana_dashboard_on_a_chosen_datasource() -> None:
    assert DASHBOARD["uid"] and DASHBOARD["title"] and DASHBOARD["schemaVersion"] >= 30
    (variable,) = DASHBOARD["templating"]["list"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    for panel in DASHBOARD["panels"]:
        assert panel["datasource"]["uid"] == "${" + variable["name"] + "}"
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert panel["targets"] and len(ref_ids) == len(set(ref_ids))
