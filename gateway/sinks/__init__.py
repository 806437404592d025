"""Sinks: where batches go (MQTT, InfluxDB).

Each sink encodes a batch once, when the pipeline hands it over, into its own store-and-forward
outbox (`gateway.buffer.Outbox`, memory then disk), and its `run()` task delivers from there,
acknowledging each item only once the server confirmed it (`base` has the contract and
`SinkBase`; `mqtt`, `influx` the sinks; `topics`, `lineproto`, `mqtt_messages` their pure
encoders; `mqtt_link`, `mqtt_errors` the MQTT connection and its wording).
"""
