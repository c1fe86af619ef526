"""Equipment-signal adapters (MQTT, OPC UA, CSV replay) emitting one observation model."""
