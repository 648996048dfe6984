"""Prometheus metrics, in a registry of their own (so each test and each process starts at zero)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.tpu_calls = Counter(
            "tpubot_tpu_api_calls", "TPU API calls", ["method", "status"], registry=r
        )
        self.slack_posts = Counter(
            "tpubot_slack_posts", "Slack Web API writes", ["method", "outcome"], registry=r
        )
        self.commands = Counter(
            "tpubot_commands", "Slash commands and clicks handled", ["kind"], registry=r
        )
        self.ticks = Counter("tpubot_ticks", "Scheduled job runs", ["job", "outcome"], registry=r)
        self.tick_seconds = Histogram(
            "tpubot_tick_seconds", "Scheduled job duration", ["job"], registry=r
        )
        self.outbox_depth = Gauge(
            "tpubot_outbox_depth", "Messages waiting to be posted", registry=r
        )
        self.open_incidents = Gauge("tpubot_open_incidents", "Open node incidents", registry=r)
        self.pending_approvals = Gauge(
            "tpubot_pending_approvals", "Approval requests pending", registry=r
        )
        self.leader = Gauge(
            "tpubot_leader", "1 when this replica runs the scheduled jobs", registry=r
        )
        # For alerts that must not hard-code intervals (deploy/monitoring/alerts.yaml): the jobs'
        # configured intervals (set by Jobs.add), when each last succeeded (Jobs.run), and approvals
        # by status (set with pending_approvals; "approved" should last seconds, not minutes).
        self.job_interval = Gauge(
            "tpubot_job_interval_seconds",
            "Configured interval of each scheduled job",
            ["job"],
            registry=r,
        )
        self.last_success = Gauge(
            "tpubot_last_success_timestamp_seconds",
            "Unix time of each scheduled job's last successful run on this replica",
            ["job"],
            registry=r,
        )
        self.approvals = Gauge(
            "tpubot_approvals",
            "Approval requests by status (pending, approved)",
            ["status"],
            registry=r,
        )

        self.outbox_set_aside = Counter(
            "tpubot_outbox_set_aside",
            "Outbox rows Slack would never take (or given up on), set aside unsent",
            ["method", "reason"],
            registry=r,
        )
        self.pruned = Counter(
            "tpubot_pruned_rows", "Rows deleted by the retention job", ["table"], registry=r
        )
        # The ack path (bot.slack.ingress): requests answered without running them, by reason
        # (rate_limited, busy, foreign_team, response_url; side_lane_full: a note or audit line
        # dropped), and the work accepted and waiting for a worker.
        self.refused = Counter(
            "tpubot_refused_requests",
            "Commands and clicks answered at once without running them",
            ["reason"],
            registry=r,
        )
        self.work_queue_depth = Gauge(
            "tpubot_work_queue_depth", "Commands and clicks waiting for a worker", registry=r
        )
        self.http_queue_depth = Gauge(
            "tpubot_http_queue_depth",
            "HTTP requests read and waiting for a server thread (HTTP mode)",
            registry=r,
        )
        self.work_process_starts = Counter(
            "tpubot_work_process_starts",
            "Work processes started (more than one: a work process died and was replaced)",
            registry=r,
        )

    def tpu_call(self, method: str, status: str) -> None:
        self.tpu_calls.labels(method=method, status=status).inc()
