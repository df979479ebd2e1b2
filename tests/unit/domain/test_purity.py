"""The domain stays pure: no I/O imports, no reading the clock."""

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[3] / "services" / "dispute" / "domain"
FORBIDDEN_MODULES = {"os", "socket", "faststream", "aiokafka", "structlog", "httpx", "psycopg",
                     "sqlite3", "fastapi", "requests", "subprocess", "logging", "time",
                     "random"}
CLOCK_READS = {"now", "utcnow", "today"}


def _modules() -> list[Path]:
    return sorted(DOMAIN.glob("*.py"))


def _imported(tree: ast.AST) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_domain_has_modules_to_check():
    assert len(_modules()) >= 5


@pytest.mark.parametrize("module", _modules(), ids=lambda p: p.name)
def test_a_domain_module_imports_no_io(module):
    assert not _imported(ast.parse(module.read_text())) & FORBIDDEN_MODULES


@pytest.mark.parametrize("module", _modules(), ids=lambda p: p.name)
def test_a_domain_module_never_reads_the_clock(module):
    calls = [node.func.attr for node in ast.walk(ast.parse(module.read_text()))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)]
    assert not set(calls) & CLOCK_READS
