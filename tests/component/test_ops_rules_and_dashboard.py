"""The alerting rules and the Grafana dashboard in ops/ are checked, not hoped: promtool
accepts the rules (and their unit tests pass), and every metric they use is one a service
exposes, read from the registries the processes build."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from infra.prometheus import INSTALL
from services.dispute.entrypoints.serve import create_app as dispute_app
from services.dispute.relay.lag import RelayLag
from services.dispute.relay.metrics import RelayMetrics
from services.dispute.settings import DisputeSettings
from standins.smtp_sink import SmtpSink
from tests.component.test_health import UNREACHABLE_KAFKA, build, sqlite
from tests.support.tokens import SECRET

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "ops" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "ops" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "dispute-platform.json"
PROMETHEUS_OWN = {"up"}  # written by Prometheus itself for every target
NOT_METRICS = {"by", "without", "on", "ignoring", "group_left", "group_right", "or", "and",
               "unless", "bool", "offset"}
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created"),
            "summary": ("", "_count", "_sum", "_created"), "gauge": ("",), "info": ("_info",)}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(f"promtool not found (Debian's prometheus package ships it); run: {INSTALL}",
                    pytrace=False)
    return found


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: what is left once strings, label matchers,
    ranges, grouping clauses, functions and keywords are taken away."""
    for pattern in (r'"[^"]*"', r"\{[^}]*\}", r"\[[^\]]*\]", r"\b(by|without|on|ignoring)\s*\([^)]*\)"):
        expr = re.sub(pattern, " ", expr)
    tokens = re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", expr)
    return {m.group(1) for m in tokens if not m.group(2) and m.group(1) not in NOT_METRICS}


def rule_expressions() -> list[str]:
    import yaml

    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def exposed(registry: CollectorRegistry) -> set[str]:
    return {family.name + suffix for family in registry.collect()
            for suffix in SUFFIXES.get(family.type, ("",))}


@pytest.fixture(scope="module")
def exposed_names(tmp_path_factory) -> set[str]:
    """Every sample name of every process's registry (the dispute API with its workers)."""
    home = tmp_path_factory.mktemp("registries")
    dispute = dispute_app(DisputeSettings(database_url=sqlite(home, "dispute"), jwt_secret=SECRET,
                                          kafka_bootstrap=UNREACHABLE_KAFKA,
                                          evidence_dir=str(home / "evidence")),
                          run_consumers=False, run_workers=True)
    registries = [dispute.state.metrics_registry,
                  RelayMetrics(CollectorRegistry(), lambda: RelayLag(2, 3, 1, 0.5)).registry,
                  SmtpSink(home / "mail", port=0, http_port=None).registry]
    for service in ("notification", "refund", "simulator"):
        app = build(service, sqlite(home, service), home)
        registries.append(app.state.metrics_registry)
    return set().union(*(exposed(r) for r in registries))


def test_promtool_accepts_the_alerting_rules():
    checked = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_alerts_fire_as_their_unit_tests_say():
    tested = subprocess.run([promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True,
                            text=True, cwd=RULE_TESTS.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_name_reader_finds_metrics_and_skips_functions_labels_and_ranges():
    expr = 'histogram_quantile(0.99, sum by (job, le) (rate(a_seconds_bucket{status=~"5.."}[5m]))) or time() - b_ts'
    assert metric_names(expr) == {"a_seconds_bucket", "b_ts"}


def test_every_metric_the_alerting_rules_use_is_exposed_by_a_service(exposed_names):
    used = set().union(*(metric_names(e) for e in rule_expressions())) - PROMETHEUS_OWN
    assert used and used <= exposed_names, sorted(used - exposed_names)


def test_every_metric_the_dashboard_uses_is_exposed_by_a_service(exposed_names):
    used = set().union(*(metric_names(e) for e in dashboard_expressions())) - PROMETHEUS_OWN
    assert used and used <= exposed_names, sorted(used - exposed_names)
