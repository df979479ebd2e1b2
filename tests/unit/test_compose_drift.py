"""docker-compose.yml runs what `make run` runs: each container of the platform's image runs a
process tools/run_local.py starts too (same name, module and subcommand), and every process
`make run` starts has its container. The one exception is provisioning: compose runs it once as
kafka-setup, `make run` inside KafkaServer.start (both through infra.kafka_access.provision)."""

from tests.support.compose import BASE, command, load
from tools.run_local import RunSettings, services

COMPOSE = load(BASE)
OWN_IMAGE = {name: spec for name, spec in COMPOSE["services"].items() if spec.get("build")}
ONE_SHOT = {"kafka-setup": ["infra.kafka", "provision"]}


def process(argv: list[str]) -> list[str]:
    """Module and subcommand of `[python, -m] module [subcommand] [--option value ...]`."""
    if argv[:2] == ["python", "-m"]:
        argv = argv[2:]
    head = []
    for word in argv:
        if word.startswith("--"):
            break
        head.append(word)
    return head


MAKE_RUN = {name: process(args) for name, args, _ in services(RunSettings())}
COMPOSED = {name: process(command(spec)) for name, spec in OWN_IMAGE.items()}


def test_every_container_of_ours_runs_a_process_make_run_runs():
    assert COMPOSED and all(command(spec)[:2] == ["python", "-m"] for spec in OWN_IMAGE.values())
    drifted = {name: argv for name, argv in COMPOSED.items()
               if MAKE_RUN.get(name) != argv and ONE_SHOT.get(name) != argv}
    assert drifted == {}, f"compose runs what make run does not: {drifted}; make run: {MAKE_RUN}"


def test_every_process_make_run_starts_has_its_container():
    assert {name: COMPOSED.get(name) for name in MAKE_RUN} == MAKE_RUN
