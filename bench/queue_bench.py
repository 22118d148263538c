"""The task queue benchmark, driven by bench/queue.sh against a release `drydock serve`.

Reports, in one run:
  - queue-to-start latency (StartTime - QueueTime) of deployments queued into free slots
  - end-to-end throughput of N deployments whose script is `true`, as tasks/s and as a
    ratio to a bare loop spawning `bash -c true` N times at the same concurrency
  - POST /api/deployments requests/s as a ratio to GET /api/health (wrk, same run)
  - GET /tasks page and GET /api/tasks latency with the run's tasks, then with 1M tasks
  - resident memory of the server during the N-deployment run
"""
import http.client
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

from benchlib import call_json, pct, rss_kb as process_rss_kb

port, key, data_dir, pid, count, cap = (
    int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
H = {"X-Octopus-ApiKey": key, "Content-Type": "application/json"}


def rss_kb():
    return process_rss_kb(pid)


def call(conn, method, path, body=None):
    return call_json(conn, method, path, body, H)


def iso_ms(text):
    # 2026-11-26T15:04:05.123+00:00
    from datetime import datetime
    return datetime.fromisoformat(text).timestamp() * 1000


conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
env = call(conn, "POST", "/api/environments", {"Name": "Production"})[1]["Id"]
# One project per slot and more, so that concurrency tags never hold the queue back.
releases = []
for i in range(max(cap * 2, 10)):
    project = call(conn, "POST", "/api/projects", {"Name": f"Bench{i}", "DeploymentScript": "true"})[1]["Id"]
    releases.append(call(conn, "POST", "/api/releases", {"ProjectId": project, "Version": "1"})[1]["Id"])


def deploy(c, i):
    status, body = call(c, "POST", "/api/deployments", {"ReleaseId": releases[i % len(releases)], "EnvironmentId": env})
    assert status == 201, (status, body)
    return body["TaskId"]


def wait_idle(c, timeout=600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        total = call(c, "GET", "/api/tasks?states=Queued,Executing,Cancelling&take=0")[1]["TotalResults"]
        if total == 0:
            return
        time.sleep(0.05)
    raise SystemExit("the queue did not drain")


# 1. Queue-to-start latency into free slots: one at a time, each after the last ended.
latencies = []
for i in range(200):
    task = deploy(conn, i)
    while True:
        t = call(conn, "GET", f"/api/tasks/{task}")[1]
        if t["IsCompleted"]:
            break
        time.sleep(0.002)
    latencies.append(iso_ms(t["StartTime"]) - iso_ms(t["QueueTime"]))

# 2. Throughput: `count` deployments posted from 8 threads, until the queue is empty.
rss_max = [rss_kb()]
stop_sampling = threading.Event()


def sample():
    while not stop_sampling.is_set():
        rss_max[0] = max(rss_max[0], rss_kb())
        time.sleep(0.2)


sampler = threading.Thread(target=sample)
sampler.start()
start = time.time()
per_thread = count // 8


def poster(n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in range(per_thread):
        deploy(c, n * per_thread + i)


threads = [threading.Thread(target=poster, args=(n,)) for n in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
posted = time.time() - start
wait_idle(conn)
elapsed = time.time() - start
stop_sampling.set()
sampler.join()
done = per_thread * 8
failed = call(conn, "GET", "/api/tasks?states=Failed,TimedOut,Canceled&take=0")[1]["TotalResults"]
drydock_rate = done / elapsed

start = time.time()
subprocess.run(f"seq {done} | xargs -P {cap} -I{{}} bash -c true", shell=True, check=True)
bare = time.time() - start
bare_rate = done / bare


# 3. POST /api/deployments vs GET /api/health, with wrk.
def wrk(path, script=None, secs=5):
    cmd = ["wrk", "-t2", "-c16", f"-d{secs}s", "-H", f"X-Octopus-ApiKey: {key}"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True).stdout
    rps = float(next(l.split()[1] for l in out.splitlines() if l.startswith("Requests/sec")))
    non2xx = next((l.split()[-1] for l in out.splitlines() if "Non-2xx" in l), "0")
    return rps, non2xx


# Deployments scheduled for tomorrow: this measures the API (validation, the change
# transaction with its task, deployment and audit event), not the scripts.
post_lua = os.path.join(data_dir, "post.lua")
tomorrow = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 86400))
with open(post_lua, "w") as f:
    f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.body = \'{{"ReleaseId": "{releases[0]}", "EnvironmentId": "{env}", "QueueTime": "{tomorrow}"}}\'\n')
health_rps, _ = wrk("/api/health")
post_rps, post_errors = wrk("/api/deployments", post_lua)
conn.close()
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)


# 4. Task list latency: paced requests, as a user would make them.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from list_probe import probe_all  # noqa: E402

total_tasks = call(conn, "GET", "/api/tasks?take=0")[1]["TotalResults"]
small = probe_all(port, key)
print(json.dumps({
    "latency_p50_ms": pct(latencies, 0.5), "latency_p99_ms": pct(latencies, 0.99),
    "deployments": done, "posted_s": round(posted, 2), "elapsed_s": round(elapsed, 2), "failed": failed,
    "tasks_per_s": round(drydock_rate, 1), "bare_per_s": round(bare_rate, 1),
    "ratio_to_bare": round(drydock_rate / bare_rate, 3), "rss_max_kb": rss_max[0],
    "health_rps": health_rps, "post_rps": post_rps, "post_non2xx": post_errors,
    "post_to_health": round(post_rps / health_rps, 3),
    "small_total": total_tasks, "small": small,
}), flush=True)
