"""The Dockerfile, read as data (no Docker engine runs here): several stages, and a final one
that holds the runtime only: the dependencies in a layer of their own, then the platform
installed from its wheel (never the source tree copied in), no compiler, no pip cache, not root."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_FOLDERS = {"contracts", "services", "infra", "standins", "tools", "tests", "."}
BUILD_TOOLS = ("gcc", "build-essential", "g++", "make ", "cargo", "rustc")


@dataclass
class Stage:
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def of(self, keyword: str) -> list[str]:
        return [args for word, args in self.instructions if word == keyword]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction: comments dropped, continued lines joined."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
            for line in joined.splitlines() if line.strip()]


def stages(text: str) -> list[Stage]:
    found: list[Stage] = []
    for keyword, args in instructions(text):
        if keyword == "FROM":
            words = args.split()
            found.append(Stage(words[2] if len(words) > 2 and words[1].upper() == "AS" else str(len(found))))
        elif found:
            found[-1].instructions.append((keyword, args))
    return found


STAGES = stages((ROOT / "Dockerfile").read_text())
FINAL = STAGES[-1]
BY_NAME = {stage.name: stage for stage in STAGES}


def copied_sources(stage: Stage) -> set[str]:
    """What a stage COPYs from the build context (not from another stage)."""
    sources = set()
    for args in stage.of("COPY"):
        words = [w for w in shlex.split(args) if not w.startswith("--")]
        if not any(w.startswith("--from") for w in shlex.split(args)):
            sources |= {w.rstrip("/") or "." for w in words[:-1]}
    return sources


def mounted_stage(run: str) -> str | None:
    match = re.search(r"--mount=\S*from=([\w.-]+)", run)
    return match.group(1) if match else None


def test_the_image_is_built_in_stages_and_the_final_one_copies_no_source():
    assert len(STAGES) >= 2, [s.name for s in STAGES]
    assert not copied_sources(FINAL) & SOURCE_FOLDERS, copied_sources(FINAL)
    assert not any(re.search(r"--from=\S+\s+/build\b", args) for args in FINAL.of("COPY"))


def test_the_final_stage_installs_the_platform_from_a_wheel_built_in_an_earlier_stage():
    wheel_installs = [run for run in FINAL.of("RUN") if "pip install" in run and ".whl" in run and "--no-deps" in run]
    assert wheel_installs, FINAL.of("RUN")
    builder = BY_NAME[mounted_stage(wheel_installs[-1])]
    assert any("pip wheel" in run and "--no-deps" in run for run in builder.of("RUN"))
    assert {"services", "contracts"} <= copied_sources(builder)


def test_the_dependencies_are_a_layer_of_their_own_built_from_the_lock_file_only():
    runs = FINAL.of("RUN")
    dependency_runs = [i for i, run in enumerate(runs) if "pip install" in run and "--no-deps" not in run]
    platform_runs = [i for i, run in enumerate(runs) if "pip install" in run and "--no-deps" in run]
    assert dependency_runs and platform_runs and dependency_runs[0] < platform_runs[0], runs
    deps = BY_NAME[mounted_stage(runs[dependency_runs[0]])]
    assert copied_sources(deps) == {"pyproject.toml", "requirements.lock"}
    assert any("-c requirements.lock" in run for run in deps.of("RUN"))


def test_the_final_stage_has_no_build_tools_no_pip_cache_and_runs_unprivileged():
    runs = " ".join(FINAL.of("RUN"))
    assert not any(tool in runs for tool in BUILD_TOOLS), runs
    assert "apt-get install" not in runs
    assert all("--no-cache-dir" in run for run in FINAL.of("RUN") if "pip " in run)
    users = FINAL.of("USER")
    assert users and users[-1].split(":")[0] not in ("root", "0"), users


def test_the_build_context_leaves_out_what_the_image_must_not_see():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".run", "tests"} <= set(ignored), ignored
