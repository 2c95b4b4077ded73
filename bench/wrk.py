"""Saturation runs with `wrk` (Debian's package): POST /sms bodies from a file, JSON summary."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

# Bodies come from a file, one JSON body per line; each wrk thread starts at its own offset so
# distinct numbers stay distinct. done() prints the summary as one JSON line.
LUA = r"""
local bodies = {}
local i = 0
local headers = {}
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer " .. args[2]
  i = (tonumber(args[3]) + id * 100003) % #bodies
end

function request()
  i = i + 1
  if i > #bodies then i = 1 end
  return wrk.format("POST", "/sms", headers, bodies[i])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk (make bench does it)")
    return found


def wrk_version() -> str:
    out = subprocess.run([wrk_binary(), "-v"], capture_output=True, text=True, check=False)
    first = (out.stdout + out.stderr).splitlines()[0]
    return " ".join(first.split()[:2])  # "wrk debian/4.1.0-3+b2"


def run_wrk(
    port: int,
    bodies: Path,
    token: str,
    *,
    duration: float,
    connections: int,
    threads: int,
    offset: int,
    script: Path,
) -> dict[str, float]:
    """One saturation run; returns requests, rps, non-2xx count, socket errors, wrk's CPU time."""
    if not script.exists():
        script.write_text(LUA)
    argv = [
        wrk_binary(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}/sms",
        "--",
        str(bodies),
        token,
        str(offset),
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, _, rusage = os.wait4(proc.pid, 0)
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    line = next((ln for ln in out.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no summary:\n{out}\n{err}")
    data = json.loads(line[len("WRKJSON ") :])
    seconds = data["duration_us"] / 1e6
    return {
        "requests": data["requests"],
        "seconds": round(seconds, 3),
        "rps": round(data["requests"] / seconds, 1),
        "non_2xx": data["status"],
        "socket_errors": data["connect"] + data["read"] + data["write"] + data["timeout"],
        "wrk_p50_ms": data["p50_us"] / 1000,
        "wrk_p99_ms": data["p99_us"] / 1000,
        "wrk_cpu_s": round(rusage.ru_utime + rusage.ru_stime, 3),
    }
