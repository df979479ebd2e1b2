#!/bin/sh
# Kafka for compose, secured as infra/kafka.py secures the local one: SASL/SCRAM-SHA-512 for
# clients (one principal per process, credentials written at format time), SASL/PLAIN on the
# controller listener, the StandardAuthorizer with deny-by-default. The topics and ACLs are
# made afterwards by the kafka-setup container (python -m infra.kafka provision).
# The principals below are those of infra/kafka_access.py; every password is required.
#
# One node by default (docker-compose.yml). docker-compose.cluster.yml runs three with the same
# script, each a KRaft controller and broker, through these settings (defaults: one node):
#   KAFKA_NODE_ID (1), KAFKA_HOST (kafka: the name the others reach it by),
#   KAFKA_EXTERNAL_PORT (9094: the host port its EXTERNAL listener is published on),
#   KAFKA_CONTROLLER_QUORUM_VOTERS (unset: a standalone controller; else id@host:9093,...),
#   KAFKA_REPLICATION (1: copies of Kafka's own topics and default.replication.factor),
#   KAFKA_MIN_ISR (1: min.insync.replicas of those and the broker default).
# KAFKA_HOME (/opt/kafka, the image's) and KAFKA_DATA (/var/lib/kafka, the volume) let
# tests/integration/test_compose_kafka_start.py run this script on the Maven jars.
set -eu
KAFKA_HOME=${KAFKA_HOME:-/opt/kafka}
DATA=${KAFKA_DATA:-/var/lib/kafka}
CONF=$DATA/server.properties
NODE_ID=${KAFKA_NODE_ID:-1}
HOST=${KAFKA_HOST:-kafka}
EXTERNAL_PORT=${KAFKA_EXTERNAL_PORT:-9094}
REPLICATION=${KAFKA_REPLICATION:-1}
MIN_ISR=${KAFKA_MIN_ISR:-1}
if [ -n "${KAFKA_CONTROLLER_QUORUM_VOTERS:-}" ]; then
  QUORUM="controller.quorum.voters=${KAFKA_CONTROLLER_QUORUM_VOTERS}"
  STANDALONE=""
else
  QUORUM="controller.quorum.bootstrap.servers=${HOST}:9093"
  STANDALONE="--standalone"
fi
mkdir -p "$DATA/data"
cat > "$CONF" <<PROPS
process.roles=broker,controller
node.id=${NODE_ID}
${QUORUM}
listeners=INTERNAL://:9092,CONTROLLER://:9093,EXTERNAL://:9094
advertised.listeners=INTERNAL://${HOST}:9092,EXTERNAL://localhost:${EXTERNAL_PORT}
listener.security.protocol.map=INTERNAL:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.internal.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
listener.name.external.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="${KAFKA_CONTROLLER_PASSWORD}" user_controller="${KAFKA_CONTROLLER_PASSWORD}";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:controller
allow.everyone.if.no.acl.found=false
auto.create.topics.enable=false
log.dirs=${DATA}/data
default.replication.factor=${REPLICATION}
min.insync.replicas=${MIN_ISR}
unclean.leader.election.enable=false
offsets.topic.replication.factor=${REPLICATION}
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=${REPLICATION}
transaction.state.log.min.isr=${MIN_ISR}
share.coordinator.state.topic.replication.factor=${REPLICATION}
share.coordinator.state.topic.min.isr=${MIN_ISR}
group.initial.rebalance.delay.ms=0
PROPS
# The health check's client settings: an authenticated ApiVersions request as `ops` (reads only).
umask 077
cat > "$DATA/probe.properties" <<PROBE
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="ops" password="${KAFKA_OPS_PASSWORD}";
PROBE
umask 022
scram() { printf '%s\n' "--add-scram" "SCRAM-SHA-512=[name=$1,password=$2]"; }
set -- \
  $(scram admin "$KAFKA_ADMIN_PASSWORD") \
  $(scram ops "$KAFKA_OPS_PASSWORD") \
  $(scram orders "$KAFKA_ORDERS_PASSWORD") \
  $(scram dispute "$KAFKA_DISPUTE_PASSWORD") \
  $(scram dispute-relay "$KAFKA_DISPUTE_RELAY_PASSWORD") \
  $(scram notification "$KAFKA_NOTIFICATION_PASSWORD") \
  $(scram refund "$KAFKA_REFUND_PASSWORD")
"$KAFKA_HOME/bin/kafka-storage.sh" format $STANDALONE -t "$KAFKA_CLUSTER_ID" -c "$CONF" --ignore-formatted "$@"
exec "$KAFKA_HOME/bin/kafka-server-start.sh" "$CONF"
