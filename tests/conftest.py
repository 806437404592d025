"""Fixtures shared by every test module.

The mosquitto fixtures (`mosquitto`, `mosquitto_auth`, `subscriber`) live with their helpers in
tests/support/mosquitto.py; importing them here makes them available everywhere.
"""

from tests.support.mosquitto import mosquitto, mosquitto_auth, subscriber

__all__ = ["mosquitto", "mosquitto_auth", "subscriber"]
