"""System tasks benchmark, driven by bench/system.sh. Phase `retention`: runs Retention
over the filled database while probing GET /api/tasks at a steady rate. Phase `backup`:
POST /api/deployments throughput without and during a Backup."""
import http.client
import json
import os
import subprocess
import sys
import threading
import time

phase, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
H = {"X-Octopus-ApiKey": key, "Content-Type": "application/json"}


def call(c, method, path, body=None):
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=H)
    r = c.getresponse()
    return r.status, json.loads(r.read() or b"null")


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def probe_while(path, keep_going, rate=200):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    values, interval, next_at = [], 1.0 / rate, time.perf_counter()
    while keep_going():
        now = time.perf_counter()
        if now < next_at:
            time.sleep(next_at - now)
        t0 = time.perf_counter()
        c.request("GET", path, headers=H)
        r = c.getresponse()
        r.read()
        values.append((time.perf_counter() - t0) * 1000)
        next_at += interval
    return values


def run_system_task(name):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    status, task = call(c, "POST", "/api/tasks", {"Name": name})
    assert status == 201, (status, task)
    return task["Id"]


def task_done(c, tid):
    return call(c, "GET", f"/api/tasks/{tid}")[1]


def seconds(task):
    from datetime import datetime
    start = datetime.fromisoformat(task["StartTime"]).timestamp()
    return datetime.fromisoformat(task["CompletedTime"]).timestamp() - start


conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
if phase == "retention":
    deadline = time.time() + 10
    idle = probe_while("/api/tasks", lambda: time.time() < deadline)
    tid = run_system_task("Retention")
    state = {"done": None}

    def watch():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            t = task_done(c, tid)
            if t["IsCompleted"]:
                state["done"] = t
                return
            time.sleep(0.2)

    w = threading.Thread(target=watch)
    w.start()
    busy = probe_while("/api/tasks", lambda: state["done"] is None)
    w.join()
    t = state["done"]
    left = call(conn, "GET", "/api/tasks?take=0")[1]["TotalResults"]
    print(json.dumps({"state": t["State"], "seconds": round(seconds(t), 2), "left": left,
                      "idle_p99": round(pct(idle, 0.99), 3), "busy_p99": round(pct(busy, 0.99), 3),
                      "idle_p50": round(pct(idle, 0.5), 3), "busy_p50": round(pct(busy, 0.5), 3),
                      "busy_n": len(busy)}))
else:
    env = call(conn, "POST", "/api/environments", {"Name": "Production"})[1]["Id"]
    project = call(conn, "POST", "/api/projects", {"Name": "Bench", "DeploymentScript": "true"})[1]["Id"]
    release = call(conn, "POST", "/api/releases", {"ProjectId": project, "Version": "1"})[1]["Id"]
    lua = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"post-{port}.lua")
    tomorrow = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 86400))
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                f'wrk.body = \'{{"ReleaseId": "{release}", "EnvironmentId": "{env}", "QueueTime": "{tomorrow}"}}\'\n')

    def wrk(secs):
        out = subprocess.run(["wrk", "-t2", "-c8", f"-d{secs}s", "-H", f"X-Octopus-ApiKey: {key}", "-s", lua,
                              f"http://127.0.0.1:{port}/api/deployments"], capture_output=True, text=True).stdout
        return float(next(l.split()[1] for l in out.splitlines() if l.startswith("Requests/sec")))

    without = wrk(5)
    tid = run_system_task("Backup")
    time.sleep(0.3)
    during = wrk(5)
    while not (t := task_done(conn, tid))["IsCompleted"]:
        time.sleep(0.2)
    print(json.dumps({"state": t["State"], "seconds": round(seconds(t), 2), "post_without": without,
                      "post_during": during}))
