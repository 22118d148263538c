"""The queue drain benchmark, driven by bench/drain.sh against a release `drydock serve`.

For each task cap (1, 5, 10): the node is drained, `count` deployments of `true` are
queued (so no client competes with the scripts for the cores), the cap is set and the
node undrained; the drain rate is the tasks divided by the time from the first task's
start to the last one's end (the tasks' own millisecond timestamps). The baseline, in
the same run: a bare loop spawning `bash -c true` `count` times at the same
concurrency (`xargs -P`), and, when drydock runs as root and so starts every script
through `setpriv` as `script_user`, the same loop through that `setpriv`.
"""
import http.client
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

from benchlib import call_json

port, key, data_dir, binary, count = (
    int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
caps = [int(c) for c in sys.argv[6].split(",")]
H = {"X-Octopus-ApiKey": key, "Content-Type": "application/json"}


def call(conn, method, path, body=None):
    return call_json(conn, method, path, body, H)


def node(*args):
    subprocess.run([binary, "--data-dir", data_dir, "node", *args], check=True,
                   stdout=subprocess.DEVNULL)


conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
env = call(conn, "POST", "/api/environments", {"Name": "Production"})[1]["Id"]
# More projects than slots, so that concurrency tags never hold the queue back.
releases = []
for i in range(20):
    project = call(conn, "POST", "/api/projects", {"Name": f"Drain{i}", "DeploymentScript": "true"})[1]["Id"]
    releases.append(call(conn, "POST", "/api/releases", {"ProjectId": project, "Version": "1"})[1]["Id"])


def queue_all(n):
    def poster(k, share):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in range(share):
            status, body = call(c, "POST", "/api/deployments",
                                {"ReleaseId": releases[(k * share + i) % len(releases)], "EnvironmentId": env})
            assert status == 201, (status, body)
    threads = [threading.Thread(target=poster, args=(k, n // 4)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (n // 4) * 4


def idle(c):
    return call(c, "GET", "/api/tasks?states=Queued,Executing,Cancelling&take=0")[1]["TotalResults"] == 0


def bare(n, cap, prefix=""):
    start = time.time()
    subprocess.run(f"seq {n} | xargs -P {cap} -I{{}} {prefix}/bin/bash -c true", shell=True, check=True)
    return n / (time.time() - start)


setpriv = ""
if os.geteuid() == 0:
    nobody = int(subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True).stdout)
    setpriv = (f"/usr/bin/setpriv --reuid={nobody} --regid={nobody} --init-groups --no-new-privs "
               "--inh-caps=-all --bounding-set=-all -- ")

db = sqlite3.connect(f"file:{data_dir}/drydock.db?mode=ro", uri=True)
results = []
for cap in caps:
    node("drain", "bench")
    before = db.execute("SELECT COALESCE(MAX(id), 0) FROM tasks").fetchone()[0]
    n = queue_all(count)
    node("task-cap", "bench", str(cap))
    node("undrain", "bench")
    deadline = time.time() + 600
    while not idle(conn):
        if time.time() > deadline:
            raise SystemExit("the queue did not drain")
        time.sleep(0.05)
    first, last, ok = db.execute(
        "SELECT MIN(start_time), MAX(completed_time), SUM(state = 'Success') FROM tasks "
        "WHERE id > ? AND name = 'Deploy'", (before,)).fetchone()
    rate = n / ((last - first) / 1000)
    row = {"cap": cap, "tasks": n, "succeeded": ok, "seconds": (last - first) / 1000,
           "per_s": round(rate, 1), "bare_per_s": round(bare(n, cap), 1)}
    row["ratio"] = round(rate / row["bare_per_s"], 3)
    if setpriv:
        row["bare_setpriv_per_s"] = round(bare(n, cap, setpriv), 1)
        row["ratio_setpriv"] = round(rate / row["bare_setpriv_per_s"], 3)
    results.append(row)
print(json.dumps(results))
