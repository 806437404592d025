"""Sinks: where batches go (MQTT, InfluxDB). Each runs as its own task behind a bounded queue."""
