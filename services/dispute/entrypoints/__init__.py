"""How the outside reaches the dispute service: http/ (the API and console),
kafka_subscribers.py (Kafka), cli.py (disputectl); serve.py wires the API process."""
