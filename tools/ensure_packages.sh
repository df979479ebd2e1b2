#!/usr/bin/env bash
# The Debian packages `make run` (run) or `make test` (test) needs, installed when missing:
# Java 17 runs the Kafka broker, Maven fetches its jars once, python3-venv makes .venv, and the
# tests add PostgreSQL's server, Chromium with its driver (the pages' browser tests) and
# Prometheus with promtool (the scrape test and the alerting rules' checks).
# Installs with apt-get as root, or with sudo when it needs no password; otherwise stops at once
# with the one command to run.
set -euo pipefail
need=()
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
if ! compgen -G "${KAFKA_LIBS_DIR:-$HOME/.cache/dispute-kafka/libs}/kafka_2.13-*.jar" >/dev/null; then
  command -v mvn >/dev/null || need+=(maven)
fi
python3 -c "import venv, ensurepip" 2>/dev/null || need+=(python3-venv)
if [ "${1:-run}" = test ]; then
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  [ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
  command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  echo "missing Debian packages: ${need[*]}; run: sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${need[@]}"
