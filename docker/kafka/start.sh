#!/bin/sh
# Kafka for compose, secured as infra/kafka.py secures the local one: SASL/SCRAM-SHA-512 for
# clients (one principal per process, credentials written at format time), SASL/PLAIN on the
# controller listener, the StandardAuthorizer with deny-by-default. The topics and ACLs are
# made afterwards by the kafka-setup container (python -m infra.kafka provision).
# The principals below are those of infra/kafka_access.py; every password is required.
set -eu
CONF=/var/lib/kafka/server.properties
mkdir -p /var/lib/kafka/data
cat > "$CONF" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=kafka:9093
listeners=INTERNAL://:9092,CONTROLLER://:9093,EXTERNAL://:9094
advertised.listeners=INTERNAL://kafka:9092,EXTERNAL://localhost:9094
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
log.dirs=/var/lib/kafka/data
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
scram() { printf '%s\n' "--add-scram" "SCRAM-SHA-512=[name=$1,password=$2]"; }
set -- \
  $(scram admin "$KAFKA_ADMIN_PASSWORD") \
  $(scram ops "$KAFKA_OPS_PASSWORD") \
  $(scram orders "$KAFKA_ORDERS_PASSWORD") \
  $(scram dispute "$KAFKA_DISPUTE_PASSWORD") \
  $(scram dispute-relay "$KAFKA_DISPUTE_RELAY_PASSWORD") \
  $(scram notification "$KAFKA_NOTIFICATION_PASSWORD") \
  $(scram refund "$KAFKA_REFUND_PASSWORD")
/opt/kafka/bin/kafka-storage.sh format --standalone -t "$KAFKA_CLUSTER_ID" -c "$CONF" --ignore-formatted "$@"
exec /opt/kafka/bin/kafka-server-start.sh "$CONF"
