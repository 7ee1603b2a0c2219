"""Where readings go: JSON lines on stdout, and MQTT (with Home Assistant discovery).

**JSON lines**: one object per published reading, flushed at once, so a
pipe or a log keeps every reading even while the broker is down.

**MQTT** (paho-mqtt 2): ``mqtt://[user:pass@]host[:port]/topic`` (``mqtts://``
for TLS, port 8883 by default); a user and password may also come from
``MNIST_EDGE_MQTT_USERNAME`` / ``MNIST_EDGE_MQTT_PASSWORD`` (kept out of
process listings). Under the topic:

* ``<topic>/state``: each published reading as JSON, retained (a client
  that subscribes later gets the last reading);
* ``<topic>/availability``: ``online`` once connected, ``offline`` when the
  source is lost, on a clean stop, and (the broker's last will) when the
  process dies or the network goes;
* with ``--ha-discovery``, ``homeassistant/sensor/<name>/reading/config``:
  Home Assistant's MQTT discovery, so a sensor entity appears by itself,
  its value the reading and its attributes the rest of the state.

The client reconnects by itself with back-off (1 s up to 30 s); readings
published while it is away are queued in memory (at most
:data:`MAX_QUEUED`) and sent on reconnection.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import urllib.parse
from typing import Callable

from mnist_edge.errors import MissingExtraError, MnistEdgeError

USER_ENV, PASSWORD_ENV = "MNIST_EDGE_MQTT_USERNAME", "MNIST_EDGE_MQTT_PASSWORD"
MAX_QUEUED = 1000  # readings kept while the broker is away
DISCOVERY_PREFIX = "homeassistant"
RECONNECT_DELAY = (1, 30)  # seconds: first retry, longest wait


class JsonLines:
    """Writes each reading as one JSON line on ``stream``."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def publish(self, doc: dict) -> None:
        self.stream.write(json.dumps(doc, separators=(",", ":")) + "\n")
        self.stream.flush()

    def availability(self, online: bool) -> None:
        pass

    def close(self) -> None:
        pass


class MqttTarget:
    """Where to publish, parsed from ``mqtt://[user:pass@]host[:port]/topic``.

    Raises:
        MnistEdgeError: a URL that is not ``mqtt://`` or ``mqtts://`` with a host and a topic.
    """

    def __init__(self, url: str):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or not parts.path.strip("/"):
            raise MnistEdgeError(f"--mqtt {url!r}: expected mqtt://host[:port]/topic (or mqtts://)")
        self.tls = parts.scheme == "mqtts"
        self.host = parts.hostname
        try:
            self.port = parts.port or (8883 if self.tls else 1883)
        except ValueError:
            raise MnistEdgeError(f"--mqtt {url!r}: the port must be a number") from None
        self.topic = parts.path.strip("/")
        self.username = urllib.parse.unquote(parts.username) if parts.username else os.environ.get(USER_ENV)
        self.password = (
            urllib.parse.unquote(parts.password) if parts.password else os.environ.get(PASSWORD_ENV)
        )


def discovery(name: str, topic: str, model: str, version: str) -> tuple:
    """Home Assistant's MQTT discovery for the reading sensor: ``(config topic, payload)``."""
    node = re.sub(r"[^a-zA-Z0-9_-]", "_", name)
    payload = {
        "name": "Reading",
        "unique_id": f"{node}_reading",
        "object_id": f"{node}_reading",
        "state_topic": f"{topic}/state",
        "value_template": "{{ value_json.reading }}",
        "json_attributes_topic": f"{topic}/state",
        "availability_topic": f"{topic}/availability",
        "payload_available": "online",
        "payload_not_available": "offline",
        "icon": "mdi:numeric",
        "device": {
            "identifiers": [node],
            "name": name,
            "manufacturer": "mnist-edge",
            "model": model,
            "sw_version": version,
        },
    }
    return f"{DISCOVERY_PREFIX}/sensor/{node}/reading/config", payload


class Mqtt:
    """Publishes readings to an MQTT broker (see the module docstring).

    Args:
        url: ``mqtt://...`` or ``mqtts://...``.
        name: the client id and the Home Assistant device name.
        ha_discovery: announce the sensor to Home Assistant.
        model: the model file's name (for the device card).
        version: mnist-edge's version.
        warn: receives one line per connection change.
    """

    def __init__(
        self,
        url: str,
        name: str,
        ha_discovery: bool,
        model: str,
        version: str,
        warn: Callable[[str], None],
    ):
        try:
            import paho.mqtt.client as paho
        except ImportError:
            raise MissingExtraError('--mqtt needs paho-mqtt: pip install "mnist-edge[watch]"') from None
        self.target = MqttTarget(url)
        self.warn = warn
        self._connected = threading.Event()
        self._said_down = False
        topic = self.target.topic
        self.state_topic, self.availability_topic = f"{topic}/state", f"{topic}/availability"
        self._discovery = discovery(name, topic, model, version) if ha_discovery else None
        self._online = True
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=name)
        if self.target.username:
            client.username_pw_set(self.target.username, self.target.password)
        if self.target.tls:
            client.tls_set()
        client.will_set(self.availability_topic, "offline", qos=1, retain=True)
        client.reconnect_delay_set(*RECONNECT_DELAY)
        client.max_queued_messages_set(MAX_QUEUED)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = lambda client, userdata: self._on_disconnect(
            client, userdata, None, "cannot connect"
        )
        self.client = client
        client.connect_async(self.target.host, self.target.port, keepalive=30)
        client.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            self.warn(f"MQTT {self.target.host}:{self.target.port}: refused ({reason_code})")
            return
        self._connected.set()
        if self._said_down:
            self.warn(f"MQTT {self.target.host}:{self.target.port}: connected again")
            self._said_down = False
        if self._discovery:
            config_topic, payload = self._discovery
            client.publish(config_topic, json.dumps(payload), qos=1, retain=True)
        client.publish(self.availability_topic, "online" if self._online else "offline", qos=1, retain=True)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None):
        self._connected.clear()
        if not self._said_down:
            self.warn(
                f"MQTT {self.target.host}:{self.target.port}: not connected ({reason_code}); "
                f"retrying every {RECONNECT_DELAY[0]}-{RECONNECT_DELAY[1]} s, readings still logged"
            )
            self._said_down = True

    def wait_connected(self, timeout: float) -> bool:
        """True once connected (for tests and the first reading)."""
        return self._connected.wait(timeout)

    def publish(self, doc: dict) -> None:
        self.client.publish(self.state_topic, json.dumps(doc, separators=(",", ":")), qos=1, retain=True)

    def availability(self, online: bool) -> None:
        self._online = online
        self.client.publish(self.availability_topic, "online" if online else "offline", qos=1, retain=True)

    def close(self, timeout: float = 3.0) -> None:
        """Says ``offline``, sends what is queued (within ``timeout``), disconnects."""
        if self._connected.is_set():
            info = self.client.publish(self.availability_topic, "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):  # not sent: the broker went away meanwhile
                pass
        self.client.disconnect()
        self.client.loop_stop()


def sinks(config, model_name: str, version: str, warn) -> list:
    """The outputs a :class:`~mnist_edge.watch.config.WatchConfig` asks for: JSON lines, and MQTT."""
    out = [JsonLines()]
    if config.mqtt:
        out.append(Mqtt(config.mqtt, config.name, config.ha_discovery, model_name, version, warn))
    return out
