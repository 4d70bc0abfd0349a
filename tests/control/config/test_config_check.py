#!/usr/bin/env python3
"""`shadowctl config check FILE`: exit status and output for a good file,
a bad one, an unreadable one and bad usage.  The oracles are written here:
the counts of the file this test writes (3 rules, 2 pools, 3 backends of
which 1 standby, the 2 ports it maps) and the line of the mistake in the
bad file, counted by hand.

Environment (set by meson): SHADOWCTL, ST_EXAMPLE_CONF.
"""
import json
import os
import subprocess
import sys
import tempfile

CTL = os.environ["SHADOWCTL"]
failures = []

GOOD = """\
ports = { map = ( { port = 9093; protocol = "kafka"; },
                  { port = 5141; protocol = "jsonl"; transport = "udp"; } ); };
pools = ( { name = "general"; min_backends = 1; },
          { name = "bigmem"; memory_class = "high"; min_backends = 1; } );
backends = ( { name = "b1"; pool = "general"; address = "10.0.0.2"; },
             { name = "b2"; pool = "general"; address = "10.0.0.3"; standby = true; },
             { name = "m1"; pool = "bigmem"; address = "2001:db8::2"; } );
streams = { rules = (
  { name = "orders"; protocol = "kafka"; match = "orders*"; pool = "bigmem"; },
  { name = "logs"; protocol = "jsonl"; },
  { name = "s"; protocol = "mqtt"; } ); };
actuators = { dry_run = true;
  nexthop = { enabled = true; route = "203.0.113.10/32"; }; };
policy = { zero_windows_per_s_max = 5; latency_p99_ms_max = 250.5; };
"""

# line 4: b2's pool does not exist
BAD = """\
pools = ( { name = "general"; min_backends = 0; } );
backends = (
  { name = "b1"; pool = "general"; address = "10.0.0.2"; },
  { name = "b2"; pool = "genral"; address = "10.0.0.3"; } );
"""


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def ctl(*args):
    r = subprocess.run([CTL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        good = os.path.join(tmp, "good.conf")
        bad = os.path.join(tmp, "bad.conf")
        with open(good, "w") as f:
            f.write(GOOD)
        with open(bad, "w") as f:
            f.write(BAD)

        rc, out, err = ctl("config", "check", good)
        check(rc == 0 and err == "", f"good file: rc {rc}, stderr {err!r}")
        lines = out.splitlines()
        check(lines[0] == f"{good}: OK", f"good file: first line {lines[0]!r}")
        check("  streams:   3 rules" in lines, f"good file: streams in {out!r}")
        check("  ports:     2 (5141/udp jsonl, 9093/tcp kafka)" in lines,
              f"good file: ports in {out!r}")
        check("  pools:     2" in lines, f"good file: pools in {out!r}")
        check("  backends:  3 (1 standby)" in lines, f"good file: backends in {out!r}")
        check("  actuators: nexthop (dry run)" in lines, f"good file: actuators in {out!r}")
        check("  reactive:  retransmissions/s off, zero windows/s 5, latency p99 ms 250.5"
              in lines, f"good file: reactive limits in {out!r}")

        rc, out, err = ctl("config", "check", "--json", good)
        check(rc == 0 and err == "", f"--json: rc {rc}, stderr {err!r}")
        doc = json.loads(out)
        check(doc == {
            "file": good, "ok": True, "streams": 3,
            "ports": [{"port": 5141, "transport": "udp", "protocol": "jsonl"},
                      {"port": 9093, "transport": "tcp", "protocol": "kafka"}],
            "pools": 2, "backends": 3, "standby_backends": 1,
            "actuators": {"dry_run": True, "nexthop": True, "xdp_lb": False,
                          "hook": False},
            "reactive_limits": {"retransmissions_per_s_max": 0.0,
                                "zero_windows_per_s_max": 5.0,
                                "latency_p99_ms_max": 250.5}}, f"--json: {doc!r}")

        rc, out, err = ctl("config", "check", bad)
        check(rc == 1 and out == "", f"bad file: rc {rc}, stdout {out!r}")
        check(err == f'{bad}:4: pool "genral" is not in pools\n', f"bad file: stderr {err!r}")
        rc, out, err = ctl("config", "check", "--json", bad)
        check(rc == 1 and out == "" and err.startswith(f"{bad}:4: "),
              f"bad file --json: rc {rc} {out!r} {err!r}")

        missing = os.path.join(tmp, "missing.conf")
        rc, out, err = ctl("config", "check", missing)
        check(rc == 1 and err == f"{missing}: No such file or directory\n",
              f"missing file: rc {rc}, stderr {err!r}")

        rc, out, err = ctl("config", "check", os.environ["ST_EXAMPLE_CONF"])
        check(rc == 0 and out.startswith(os.environ["ST_EXAMPLE_CONF"] + ": OK\n"),
              f"example: rc {rc} {out!r} {err!r}")

        for args in (["config"], ["config", "check"], ["config", "verify", good],
                     ["config", "check", good, good], ["config", "check", "--yaml", good]):
            rc, out, err = ctl(*args)
            check(rc == 2 and "usage: shadowctl config check" in err,
                  f"{args}: rc {rc}, stderr {err!r}")
        rc, out, err = ctl("config", "--help")
        check(rc == 0 and out.startswith("usage: shadowctl config check [--json] FILE"),
              f"--help: rc {rc} {out!r}")
        rc, out, err = ctl("--help")
        check(rc == 0 and "  config " in out, f"shadowctl --help lists config: {out!r}")

    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
