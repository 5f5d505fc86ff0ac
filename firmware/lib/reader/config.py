# Reader configuration: defaults in code, site values in /config.json (the bundle that
# provisioning produces), remote changes from the `set` command in /overrides.json.
#
# load() never raises: a missing file, bad JSON, a wrong type or a missing field gives a
# clear message (French first) on the serial console and a safe default, so a bad file
# can never put the reader into a crash loop. Secrets (passwords) are never defaulted:
# without site, device and broker host the reader runs unconfigured (no network) and
# says so on every tap.
import json

from reemploi.protocol import wire

try:
    from typing import Any
except ImportError:  # MicroPython: annotations are never evaluated
    pass

CONFIG_PATH = "config.json"
OVERRIDES_PATH = "overrides.json"

DEFAULTS = {
    "site": None,  # required: site id (a-z 0-9 -)
    "device": None,  # required: device id, also the MQTT user and client id
    "broker": {
        "host": None,  # required
        "port": 8883,
        "user": None,  # defaults to the device id
        "password": None,  # never defaulted
        "tls": True,
        "cafile": "ca.crt",  # CA that signed the broker's certificate
        "certfile": None,  # client certificate (when the broker uses certificates)
        "keyfile": None,
        "keepalive_s": 60,
    },
    "wifi": [],  # [{"ssid": "...", "password": "..."}], tried in order
    "feedback": {
        "buzzer": True,
        "volume": 50,  # percent
        "led": True,
    },
    "nfc": {
        "enabled": True,
        "poll_ms": 150,
        "same_tag_holdoff_ms": 1500,  # the same tag is reported again only after this gap
    },
    "ble": {
        "enabled": False,
        "namespace": None,  # Eddystone namespace of the platform, 20 hex digits
        "ibeacon_uuid": None,  # iBeacon proximity UUID of the platform, 32 hex digits
        "window_ms": 1000,  # length of one scan burst
        "duty_percent": 25,  # share of time spent scanning
        "min_interval_s": 60,  # one report per beacon per interval at most
    },
    "queue": {
        "max_scans": 100,  # offline queue bound; beyond it the oldest is dropped (counted)
        "resend_s": 30,  # an unacknowledged scan is published again after this delay
    },
    "ack_timeout_ms": 2000,  # no ack in this time: the reader plays "queued"
    "status_interval_s": 60,
    "watchdog_ms": 30000,
}

# Settings the `set` command may change (never the broker, Wi-Fi or identity).
SETTABLE = {
    "buzzer": ("feedback", "buzzer"),
    "volume": ("feedback", "volume"),
    "led": ("feedback", "led"),
    "nfc_poll_ms": ("nfc", "poll_ms"),
    "same_tag_holdoff_ms": ("nfc", "same_tag_holdoff_ms"),
    "ble_enabled": ("ble", "enabled"),
    "ble_window_ms": ("ble", "window_ms"),
    "ble_duty_percent": ("ble", "duty_percent"),
    "ble_min_interval_s": ("ble", "min_interval_s"),
    "status_interval_s": ("status_interval_s",),
    "ack_timeout_ms": ("ack_timeout_ms",),
}

# Inclusive ranges for integer settings; values outside are refused.
RANGES = {
    "port": (1, 65535),
    "keepalive_s": (5, 3600),
    "volume": (0, 100),
    "poll_ms": (20, 5000),
    "same_tag_holdoff_ms": (0, 60000),
    "window_ms": (100, 60000),
    "duty_percent": (1, 100),
    "min_interval_s": (0, 86400),
    "max_scans": (1, 1000),
    "resend_s": (5, 3600),
    "ack_timeout_ms": (200, 30000),
    "status_interval_s": (2, 3600),
    "watchdog_ms": (5000, 120000),
}


def _copy(value) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _is_hex(text, digits):
    if not isinstance(text, str) or len(text) != digits:
        return False
    for ch in text.upper():
        if ch not in "0123456789ABCDEF":
            return False
    return True


def _check_value(name, default, value):
    """Return an error text, or None when ``value`` fits the setting."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "doit être true/false (must be a boolean)"
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            return "doit être un entier (must be an integer)"
        low, high = RANGES.get(name, (-(2**31), 2**31 - 1))
        if not low <= value <= high:
            return "hors limites %d..%d (out of range)" % (low, high)
        return None
    if isinstance(default, list):
        return None if isinstance(value, list) else "doit être une liste (must be a list)"
    # text or None by default: text or null accepted
    if value is None or isinstance(value, str):
        return None
    return "doit être du texte (must be text)"


def _merge(defaults, given, path, problems) -> Any:
    out = _copy(defaults)
    if not isinstance(given, dict):
        problems.append(path + ": doit être un objet (must be an object)")
        return out
    for key, value in given.items():
        where = path + "." + key if path else key
        if key not in defaults:
            problems.append(where + ": réglage inconnu, ignoré (unknown setting, ignored)")
            continue
        default = defaults[key]
        if isinstance(default, dict):
            if value is True or value is False:  # "tls": false / true shortcut
                out[key] = _copy(default)
                if "enabled" in default:
                    out[key]["enabled"] = value
                continue
            out[key] = _merge(default, value, where, problems)
            continue
        if key == "tls" and (value is True or value is False):
            out[key] = value
            continue
        error = _check_value(key, default, value)
        if error:
            problems.append(where + ": " + error + ", valeur par défaut gardée (default kept)")
        else:
            out[key] = value
    return out


def _check_required(cfg: dict, problems):
    if not wire.valid_id(cfg["site"]):
        problems.append("site: manquant ou invalide, a-z 0-9 - (missing or invalid)")
        cfg["site"] = None
    if not wire.valid_id(cfg["device"]):
        problems.append("device: manquant ou invalide, a-z 0-9 - (missing or invalid)")
        cfg["device"] = None
    broker = cfg["broker"]
    if not broker["host"]:
        problems.append("broker.host: manquant (missing)")
    if broker["user"] is None:
        broker["user"] = cfg["device"]
    wifi = []
    for index, net in enumerate(cfg["wifi"]):
        if isinstance(net, dict) and isinstance(net.get("ssid"), str) and net["ssid"]:
            password = net.get("password")
            wifi.append({"ssid": net["ssid"], "password": password if isinstance(password, str) else ""})
        else:
            problems.append("wifi[%d]: réseau sans ssid, ignoré (network without ssid)" % index)
    cfg["wifi"] = wifi
    ble = cfg["ble"]
    if ble["namespace"] is not None and not _is_hex(ble["namespace"], 20):
        problems.append("ble.namespace: 20 chiffres hexadécimaux attendus (10 bytes hex expected)")
        ble["namespace"] = None
    if ble["ibeacon_uuid"] is not None and not _is_hex(ble["ibeacon_uuid"].replace("-", ""), 32):
        problems.append("ble.ibeacon_uuid: UUID attendu (UUID expected)")
        ble["ibeacon_uuid"] = None
    if ble["enabled"] and ble["namespace"] is None and ble["ibeacon_uuid"] is None:
        problems.append("ble: ni namespace ni ibeacon_uuid, BLE désactivé (no namespace: BLE off)")
        ble["enabled"] = False


def is_configured(cfg):
    """True when the reader can talk to the platform."""
    return bool(cfg["site"] and cfg["device"] and cfg["broker"]["host"])


def _read_json(path, problems, missing_ok):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        if not missing_ok:
            problems.append(path + ": fichier absent (file missing)")
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        problems.append(path + ": JSON illisible, valeurs par défaut (unreadable JSON, defaults used)")
        return {}
    if not isinstance(value, dict):
        problems.append(path + ": doit contenir un objet JSON (must hold a JSON object)")
        return {}
    return value


def build(given, overrides=None):
    """Merge site values (and overrides) over the defaults: ``(config, problems)``."""
    problems = []
    cfg = _merge(DEFAULTS, given, "", problems)
    if overrides:
        for name, value in overrides.items():
            error = apply_setting(cfg, name, value)
            if error:
                problems.append(OVERRIDES_PATH + ": " + name + ": " + error)
    _check_required(cfg, problems)
    return cfg, problems


def load(path=CONFIG_PATH, overrides_path=OVERRIDES_PATH):
    """Read the config files; never raises. Returns ``(config, problems)``."""
    problems = []
    given = _read_json(path, problems, False)
    overrides = _read_json(overrides_path, problems, True)
    cfg, more = build(given, overrides)
    return cfg, problems + more


def check_setting(name, value):
    """Error text when ``set`` may not give ``name`` this value, else None."""
    path = SETTABLE.get(name)
    if path is None:
        return "réglage non modifiable à distance (not settable remotely)"
    defaults = DEFAULTS
    for key in path[:-1]:
        defaults = defaults[key]
    return _check_value(path[-1], defaults[path[-1]], value)


def apply_setting(cfg, name, value):
    """Apply one ``set`` command argument; return an error text or None."""
    error = check_setting(name, value)
    if error:
        return error
    path = SETTABLE[name]
    node = cfg
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return None


def read_overrides(path=OVERRIDES_PATH):
    """The saved ``set`` values (a dict; empty when the file is absent or unreadable)."""
    problems = []
    values = _read_json(path, problems, True)
    report(problems)
    return values


def save_overrides(values, path=OVERRIDES_PATH):
    """Persist accepted ``set`` values (written to a temporary file, then renamed)."""
    import os

    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(values))
    os.rename(tmp, path)


def report(problems):
    """Print config problems on the serial console, French first."""
    for line in problems:
        print("config:", line)
