"""logkit.ship.tail without Elasticsearch: registry persistence, identity and fingerprint,
rotation by rename and by copytruncate, partial and oversized lines, acks and restarts."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from logkit.ship.tail import (LINE, OVERSIZED, PARTIAL, Registry, RegistryLocked, Tailer,
                              fingerprint, line_id)


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t

    def advance(self, s):
        self.t += s


def ev(i: int, pad: int = 0) -> bytes:
    return json.dumps({"message": f"event {i}" + "x" * pad, "event": {"id": f"id-{i:06d}"}}).encode() + b"\n"


def write(path, data: bytes, mode="ab"):
    with open(path, mode) as f:
        f.write(data)


def drain(t: Tailer, ack=True, rounds=5) -> list:
    """Polls until nothing new comes; acks everything read."""
    got = []
    for _ in range(rounds):
        lines = t.poll()
        if not lines and t.idle():
            break
        got.extend(lines)
        if ack:
            for ln in lines:
                t.ack(ln.source, ln.end)
    return got


def mk(tmp_path, patterns, clock=None, **kw):
    kw.setdefault("rescan_interval", 0)
    return Tailer([str(p) for p in patterns], str(tmp_path / "registry.json"),
                  clock=clock or Clock(), **kw)


# -- fingerprint and identity ---------------------------------------------------------------
def test_fingerprint_covers_the_first_line_and_is_stable_as_the_file_grows():
    assert fingerprint(b"abc", 1024) is None                 # first line not complete yet
    fp1 = fingerprint(b"first line\n", 1024)
    fp2 = fingerprint(b"first line\nsecond line\n"[:1024], 1024)
    assert fp1 == fp2 and fp1[1] == len(b"first line\n")
    assert fingerprint(b"x" * 1024, 1024)[1] == 1024          # long first line: N bytes
    assert fingerprint(b"partial", 1024, force=True)[1] == 7
    assert fingerprint(b"other line\n", 1024) != fp1


def test_line_id_is_deterministic():
    assert line_id("1:2:ab", 10) == line_id("1:2:ab", 10)
    assert line_id("1:2:ab", 10) != line_id("1:2:ab", 11) != line_id("1:2:ac", 10)


def test_inode_reuse_with_other_content_is_a_new_file(tmp_path):
    log = tmp_path / "app.log"
    write(log, ev(1) + ev(2))
    clock = Clock()
    t = mk(tmp_path, [log], clock)
    assert [ln.data for ln in drain(t)] == [ev(1)[:-1], ev(2)[:-1]]
    t.save()
    key1 = t.sources[0].key
    t.close()
    # same inode (truncate in place, rewrite) and a larger size than the old offset
    write(log, ev(100) + ev(101) + ev(102), mode="r+b")
    t = mk(tmp_path, [log], clock)
    got = drain(t)
    assert [ln.data for ln in got] == [ev(100)[:-1], ev(101)[:-1], ev(102)[:-1]]
    assert got[0].source != key1 and got[0].offset == 0
    t.close()


# -- registry -------------------------------------------------------------------------------
def test_registry_survives_a_restart_and_is_written_atomically(tmp_path):
    log = tmp_path / "app.log"
    write(log, b"".join(ev(i) for i in range(10)))
    t = mk(tmp_path, [log])
    lines = drain(t, ack=False)
    assert len(lines) == 10
    for ln in lines[:4]:
        t.ack(ln.source, ln.end)
    assert t.save()
    assert not t.save()  # nothing changed
    t.close()
    reg = json.loads((tmp_path / "registry.json").read_text())
    assert reg["version"] == 1
    [e] = reg["files"]
    assert e["offset"] == lines[3].end and e["path"] == str(log)
    st = os.stat(log)
    assert (e["dev"], e["ino"]) == (st.st_dev, st.st_ino)
    assert not [p for p in os.listdir(tmp_path) if ".tmp." in p]
    # restart: the unacked lines come again, nothing before them
    t = mk(tmp_path, [log])
    again = drain(t)
    assert [ln.offset for ln in again] == [ln.offset for ln in lines[4:]]
    t.close()


def test_registry_is_locked_against_a_second_process(tmp_path):
    r = Registry(str(tmp_path / "reg.json"))
    code = ("import sys; from logkit.ship.tail import Registry, RegistryLocked\n"
            "try:\n Registry(sys.argv[1])\nexcept RegistryLocked as e:\n print('locked'); sys.exit(3)")
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "reg.json")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 3 and "locked" in p.stdout
    r.close()
    p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "reg.json")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0


def test_a_corrupt_registry_is_refused_not_ignored(tmp_path):
    (tmp_path / "reg.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Registry(str(tmp_path / "reg.json"))


def test_killed_while_saving_leaves_the_previous_registry(tmp_path):
    """A temp file left by a crash mid-save is not the registry; the old one is intact."""
    r = Registry(str(tmp_path / "reg.json"))
    r.put({"key": "1:2:ab", "dev": 1, "ino": 2, "fp": "ab", "fp_len": 3, "offset": 10})
    r.save()
    r.close()
    (tmp_path / "reg.json.tmp.999").write_text('{"version": 1, "files": [')  # half-written
    r = Registry(str(tmp_path / "reg.json"))
    assert r.get("1:2:ab")["offset"] == 10
    r.close()


# -- lines ----------------------------------------------------------------------------------
def test_partial_last_line_waits_for_its_newline(tmp_path):
    log = tmp_path / "app.log"
    write(log, ev(1) + b'{"message": "half')
    clock = Clock()
    t = mk(tmp_path, [log], clock, partial_timeout=5)
    assert [ln.data for ln in drain(t)] == [ev(1)[:-1]]
    clock.advance(60)
    assert drain(t) == []                      # still waiting: the file was not rotated
    write(log, b' done"}\n')
    [ln] = drain(t)
    assert ln.data == b'{"message": "half done"}' and ln.kind == LINE
    t.close()


def test_partial_line_is_taken_at_shutdown_only_after_the_timeout(tmp_path):
    log = tmp_path / "app.log"
    write(log, ev(1) + b'{"message": "no newline"}')
    clock = Clock()
    t = mk(tmp_path, [log], clock, partial_timeout=5)
    drain(t)
    assert t.idle()
    assert t.finish() == []                    # written just now
    clock.advance(6)
    [ln] = t.finish()
    assert ln.kind == PARTIAL and ln.data == b'{"message": "no newline"}'
    assert ln.end == os.path.getsize(log)
    t.close()


def test_a_file_with_only_a_partial_first_line_has_no_identity_yet(tmp_path):
    log = tmp_path / "app.log"
    write(log, b'{"message": "sta')
    clock = Clock()
    t = mk(tmp_path, [log], clock)
    assert drain(t) == [] and t.idle()
    write(log, b'rt"}\n' + ev(2))
    assert len(drain(t)) == 2
    t.close()


def test_oversized_lines_are_cut_and_flagged_without_buffering_them(tmp_path):
    log = tmp_path / "app.log"
    big = b'{"message": "' + b"y" * 5000 + b'"}'
    write(log, ev(1) + big + b"\n" + ev(2))
    t = mk(tmp_path, [log], max_line_bytes=1000, keep_bytes=100, read_chunk=700)
    got = drain(t, rounds=50)
    assert [g.kind for g in got] == [LINE, OVERSIZED, LINE]
    assert got[1].length == len(big) and got[1].data == big[:100]
    assert got[2].offset == got[1].end and got[2].data == ev(2)[:-1]
    t.close()


def test_crlf_and_empty_lines_keep_exact_offsets(tmp_path):
    log = tmp_path / "app.log"
    data = b"a\r\n\nbb\n"
    write(log, data)
    t = mk(tmp_path, [log])
    got = drain(t)
    assert [(g.offset, g.end, g.data) for g in got] == [(0, 3, b"a\r"), (3, 4, b""), (4, 7, b"bb")]
    t.close()


# -- rotation -------------------------------------------------------------------------------
def test_rename_rotation_reads_the_old_file_to_its_end_then_the_new_one(tmp_path):
    log = tmp_path / "app.log"
    write(log, ev(1))
    clock = Clock()
    t = mk(tmp_path, [tmp_path / "app.log*"], clock, partial_timeout=2)
    assert len(drain(t)) == 1
    write(log, ev(2))                                # written, not read yet
    os.rename(log, tmp_path / "app.log.1")
    write(tmp_path / "app.log.1", ev(3))            # the writer has not reopened yet
    write(log, ev(4))                                # new file
    got = drain(t)
    assert sorted(g.data for g in got) == sorted(ev(i)[:-1] for i in (2, 3, 4))
    clock.advance(5)
    drain(t)
    assert len(t.sources) == 1                       # the rotated file was closed once done
    t.save()
    t.close()
    t = mk(tmp_path, [tmp_path / "app.log*"], clock)
    assert drain(t) == []                            # nothing again after a restart
    t.close()


def test_rename_rotation_while_down_resumes_the_old_file_under_its_new_name(tmp_path):
    log = tmp_path / "app.log"
    write(log, ev(1) + ev(2))
    t = mk(tmp_path, [tmp_path / "app.log*"])
    lines = drain(t, ack=False)
    t.ack(lines[0].source, lines[0].end)             # ev(2) was not acked
    t.save()
    t.close()
    os.rename(log, tmp_path / "app.log.1")
    write(log, ev(3))
    t = mk(tmp_path, [tmp_path / "app.log*"])
    assert sorted(g.data for g in drain(t)) == [ev(2)[:-1], ev(3)[:-1]]
    t.close()


def test_rotated_file_partial_is_taken_after_the_timeout(tmp_path):
    log = tmp_path / "app.log"
    write(log, ev(1) + b'{"message": "cut off"}')
    clock = Clock()
    t = mk(tmp_path, [log], clock, partial_timeout=3)
    drain(t)
    os.rename(log, tmp_path / "old.log")
    write(log, ev(2))
    assert [g.data for g in drain(t)] == [ev(2)[:-1]]
    clock.advance(4)
    [p] = drain(t)
    assert p.kind == PARTIAL and p.data == b'{"message": "cut off"}'
    t.close()


def test_copytruncate_restarts_at_zero_and_the_copy_resumes_where_the_original_was(tmp_path):
    log = tmp_path / "app.log"
    write(log, b"".join(ev(i, pad=50) for i in range(5)))
    clock = Clock()
    t = mk(tmp_path, [tmp_path / "app.log*"], clock)
    first = drain(t)
    assert len(first) == 5
    write(log, ev(5, pad=50) + ev(6, pad=50))        # not read before the rotation
    # copytruncate, with the writer paused
    with open(log, "rb") as src, open(tmp_path / "app.log.1", "wb") as dst:
        dst.write(src.read())
    os.truncate(log, 0)
    write(log, ev(7))
    got = drain(t)
    datas = sorted(g.data for g in got)
    # 5 and 6 come from the copy (which skipped 0-4), 7 from the truncated file: each exactly once
    assert datas == sorted([ev(5, pad=50)[:-1], ev(6, pad=50)[:-1], ev(7)[:-1]])
    copy_lines = [g for g in got if g.path.endswith(".1")]
    assert {g.data for g in copy_lines} == {ev(5, pad=50)[:-1], ev(6, pad=50)[:-1]}
    # the copy's lines keep the id key of the original (ids of id-less lines do not change)
    assert t.id_key(copy_lines[0].source) == t.id_key(first[0].source)
    t.close()


def test_truncated_file_with_the_same_first_line_gets_a_new_generation(tmp_path):
    log = tmp_path / "app.log"
    write(log, b"header\n" + b"line a\n" * 10)
    t = mk(tmp_path, [log])
    first = drain(t)
    key = first[0].source
    os.truncate(log, 0)
    write(log, b"header\nnew 1\n")
    got = drain(t)
    assert [g.data for g in got] == [b"header", b"new 1"]
    assert got[0].source == key + "#2"
    assert t.id_key(got[0].source) != t.id_key(key)   # no id collides with the old lines'
    t.close()


# -- discovery ------------------------------------------------------------------------------
def test_globs_are_rescanned_for_new_files(tmp_path):
    clock = Clock()
    t = mk(tmp_path, [tmp_path / "*.log"], clock, rescan_interval=10)
    write(tmp_path / "a.log", ev(1))
    assert len(drain(t)) == 1
    write(tmp_path / "b.log", ev(2))
    assert drain(t) == []                            # not re-globbed yet
    clock.advance(11)
    assert [g.data for g in drain(t)] == [ev(2)[:-1]]
    t.close()


def test_lag_counts_unacked_bytes(tmp_path):
    log = tmp_path / "app.log"
    write(log, ev(1) + ev(2))
    t = mk(tmp_path, [log])
    lines = drain(t, ack=False)
    assert t.lag() == os.path.getsize(log)
    t.ack(lines[0].source, lines[0].end)
    assert t.lag() == len(ev(2))
    t.close()


def test_stdin(tmp_path):
    code = ("import json,sys; from logkit.ship.tail import Tailer\n"
            "t = Tailer([], None, stdin=True)\n"
            "out = []\n"
            "while True:\n"
            "    out += [l.data.decode() for l in t.poll()]\n"
            "    if t.idle(): break\n"
            "out += [l.data.decode() for l in t.finish()]\n"
            "print(json.dumps(out))")
    p = subprocess.run([sys.executable, "-c", code], input=b"a\nb\nc-no-newline",
                       capture_output=True, timeout=60)
    assert json.loads(p.stdout) == ["a", "b", "c-no-newline"], p.stderr


def test_closed_finished_files_are_not_reopened_until_they_grow(tmp_path):
    clock = Clock()
    log = tmp_path / "a.log"
    write(log, ev(1))
    t = mk(tmp_path, [log], clock, close_inactive=5)
    drain(t)
    t.save()
    clock.advance(6)
    drain(t)
    assert t.sources == []
    drain(t)
    assert t.sources == []
    time.sleep(0.01)
    write(log, ev(2))
    assert [g.data for g in drain(t)] == [ev(2)[:-1]]
    t.close()
