"""The OPC UA adapter: one asyncua client per device, subscriptions or batched reads, browse."""
