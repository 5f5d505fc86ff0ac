# Config loader (defaults, clear problems, never raises), offline queue and sequence.
import os

from reader import config
from reader.scan_queue import OfflineQueue
from reader.sequence import SequenceCounter

from reemploi.protocol import wire


def _dir(p, name):
    path = p.get("data", "/tmp") + "/fw-" + name
    try:
        os.mkdir(path)
    except OSError:
        pass
    for f in ("q.log", "q.log.tmp", "seq.txt", "seq.txt.tmp", "config.json"):
        try:
            os.remove(path + "/" + f)
        except OSError:
            pass
    return path


def test_missing_config_file_gives_defaults_and_a_message(p):
    cfg, problems = config.load("/nonexistent/config.json", "/nonexistent/o.json")
    assert not config.is_configured(cfg)
    assert any("fichier absent" in line for line in problems), problems
    assert cfg["broker"]["port"] == 8883 and cfg["ack_timeout_ms"] == 2000


def test_bad_json_and_wrong_types_keep_defaults(p):
    d = _dir(p, "cfg")
    with open(d + "/config.json", "w") as f:
        f.write("{not json")
    cfg, problems = config.load(d + "/config.json", d + "/none.json")
    assert any("JSON illisible" in line for line in problems), problems
    cfg, problems = config.build(
        {
            "site": "cp-1",
            "device": "rd-1",
            "broker": {"host": "h", "port": "x"},
            "feedback": {"volume": 500},
            "nfc": {"poll_ms": True},
            "zzz": 1,
            "wifi": [{"ssid": "a"}, {"nope": 1}],
        }
    )
    assert config.is_configured(cfg)
    assert (
        cfg["broker"]["port"] == 8883
        and cfg["feedback"]["volume"] == 50
        and cfg["nfc"]["poll_ms"] == 150
    )
    assert cfg["broker"]["user"] == "rd-1" and cfg["wifi"] == [{"ssid": "a", "password": ""}]
    assert len(problems) == 5, problems


def test_invalid_ids_make_the_reader_unconfigured(p):
    cfg, problems = config.build({"site": "CP 1", "device": "-x", "broker": {"host": "h"}})
    assert not config.is_configured(cfg) and len(problems) == 2, problems


def test_set_command_only_touches_settable_values(p):
    cfg, _ = config.build({"site": "cp-1", "device": "rd-1", "broker": {"host": "h"}})
    assert config.apply_setting(cfg, "volume", 80) is None and cfg["feedback"]["volume"] == 80
    assert config.apply_setting(cfg, "volume", 101) is not None
    assert config.apply_setting(cfg, "host", "evil") is not None


def _scan(seq, data="https://id.gs1.org/8004/1"):
    return wire.Scan("rd-1", seq, "ndef_uri", data)


def test_queue_survives_restart_drops_oldest_and_counts(p):
    d = _dir(p, "queue")
    q = OfflineQueue(d + "/q.log", 3)
    for i in range(5):
        q.push(_scan(i))
    assert [e.seq for e in q.entries] == [2, 3, 4] and q.drops == 2
    q.acknowledge(q.entries[0].key)
    again = OfflineQueue(d + "/q.log", 3)
    assert [e.seq for e in again.entries] == [3, 4], [e.seq for e in again.entries]
    for e in list(again.entries):
        again.acknowledge(e.key)
    try:
        os.stat(d + "/q.log")
        raise AssertionError("empty queue should remove its journal")
    except OSError:
        pass


def test_queue_skips_a_line_cut_by_power_loss(p):
    d = _dir(p, "cut")
    q = OfflineQueue(d + "/q.log", 10)
    q.push(_scan(1))
    q.push(_scan(2))
    with open(d + "/q.log", "ab") as f:
        f.write(b'+{"v":1,"device":"rd-1","se')
    again = OfflineQueue(d + "/q.log", 10)
    assert [e.seq for e in again.entries] == [1, 2] and again.corrupt_lines == 1


def test_queue_keeps_scans_in_ram_when_flash_fails(p):
    q = OfflineQueue("/nonexistent-dir/q.log", 10)
    q.push(_scan(1))
    assert len(q) == 1 and q.flash_errors == 1


def test_sequence_never_reuses_a_number_after_reboot(p):
    d = _dir(p, "seq")
    s = SequenceCounter(d + "/seq.txt", block=4)
    seen = [s.next() for _ in range(6)]
    s2 = SequenceCounter(d + "/seq.txt", block=4)
    nxt = s2.next()
    assert seen == [0, 1, 2, 3, 4, 5] and nxt > 5, nxt
