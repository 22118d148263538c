"""The 60-second mixed load, driven by bench/load.sh against a release `drydock serve`.

Three worker processes of 4 threads each, each thread on its own keep-alive connection,
run a weighted mix as a Project Deployer: page views with a browser session (dashboard,
task list, project list, a task page), API reads with an API key (task list, a task,
projects, server status) and deployments queued through the API. An administrator turns
maintenance mode on and off every 10 s. Counted per kind: requests, statuses, latency.
An error is anything but 2xx/3xx, except a 503 maintenance refusal of a deployer's
deployment (its body carries MaintenanceMessage). Prints JSON.
"""
import http.client
import json
import os
import multiprocessing
import random
import re
import sys
import threading
import time
import urllib.parse

from benchlib import pct, rss_kb as process_rss_kb

port, admin_key, deployer_key, password, seconds, pid = (
    int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), int(sys.argv[6]))
WARMUP = 10.0
# Seconds after the load ends before memory is read again (what an idle server returns).
SETTLE = 5


def call(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, r.read(), r


def rss_kb():
    return process_rss_kb(pid)


def memory_breakdown():
    """Anonymous and file-backed resident KiB, and threads, of the server now
    (DRYDOCK_SMAPS=<file> also keeps its /proc/<pid>/smaps there, to look closer)."""
    if os.environ.get("DRYDOCK_SMAPS"):
        with open(f"/proc/{pid}/smaps") as f, open(os.environ["DRYDOCK_SMAPS"], "w") as out:
            out.write(f.read())
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                fields[parts[0][:-1]] = int(parts[1])
    with open(f"/proc/{pid}/status") as f:
        threads = next(int(l.split()[1]) for l in f if l.startswith("Threads:"))
    return {"anon_kb": fields.get("Anonymous", 0),
            "file_kb": fields.get("Rss", 0) - fields.get("Anonymous", 0), "threads": threads}


def sign_in(conn, username):
    # Twelve threads sign in at once and the server hashes two passwords at a time:
    # the rest are told to come back (429, Retry-After), as a browser would.
    deadline = time.time() + 60
    while True:
        status, body, page = call(conn, "GET", "/login")
        jar = "; ".join(h.split(";", 1)[0] for k, h in page.getheaders()
                        if k.lower() == "set-cookie" and h.startswith("drydock_login_csrf="))
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', body.decode()).group(1)
        form = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": token})
        status, _, r = call(conn, "POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": jar})
        if status != 429 or time.time() > deadline:
            break
        time.sleep(min(float(r.getheader("Retry-After") or 1), 1) * random.random() + 0.05)
    assert status == 303, status
    return "; ".join(h.split(";", 1)[0] for k, h in r.getheaders() if k.lower() == "set-cookie")


def setup():
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = {"X-Octopus-ApiKey": admin_key, "Content-Type": "application/json"}
    env = json.loads(call(conn, "POST", "/api/environments", json.dumps({"Name": "Production"}), h)[1])["Id"]
    releases = []
    for i in range(20):
        p = json.loads(call(conn, "POST", "/api/projects", json.dumps({"Name": f"Load{i}", "DeploymentScript": "true"}), h)[1])["Id"]
        releases.append(json.loads(call(conn, "POST", "/api/releases", json.dumps({"ProjectId": p, "Version": "1"}), h)[1])["Id"])
    # A first task before the load starts: the readers' task pages need one to exist
    # (the toggler may turn maintenance on before any deployment of the load).
    status, body, _ = call(conn, "POST", "/api/deployments",
                           json.dumps({"ReleaseId": releases[0], "EnvironmentId": env}), h)
    assert status == 201, (status, body)
    return env, releases


def worker_process(env, releases, deadline, queue):
    results = []
    lock = threading.Lock()

    def thread():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        cookie = sign_in(conn, "loaddeployer")
        api = {"X-Octopus-ApiKey": deployer_key, "Content-Type": "application/json"}
        page = {"Cookie": cookie}
        counts, latencies, errors = {}, {}, []
        task = "ServerTasks-1"
        while time.time() < deadline:
            r = random.random()
            if r < 0.4:
                kind = "page"
                path = random.choice(["/", "/tasks", "/projects", f"/tasks/{task.split('-')[1]}"])
                method, body, headers = "GET", None, page
            elif r < 0.8:
                kind = "api_read"
                path = random.choice(["/api/tasks?take=30", f"/api/tasks/{task}", "/api/projects", "/api/serverstatus"])
                method, body, headers = "GET", None, api
            else:
                kind = "deploy"
                path = "/api/deployments"
                method = "POST"
                body = json.dumps({"ReleaseId": random.choice(releases), "EnvironmentId": env})
                headers = api
            started = time.perf_counter()
            try:
                status, data, _ = call(conn, method, path, body, headers)
            except Exception as e:
                errors.append(f"{method} {path}: {e!r}")
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            ms = (time.perf_counter() - started) * 1000
            key = f"{kind} {status}"
            counts[key] = counts.get(key, 0) + 1
            latencies.setdefault(kind, []).append(ms)
            if kind == "deploy" and status == 201:
                task = json.loads(data)["TaskId"]
            elif kind == "deploy" and status == 503 and b"MaintenanceMessage" in data:
                pass
            elif status >= 400:
                errors.append(f"{method} {path}: {status} {data[:200]!r}")
        with lock:
            results.append((counts, latencies, errors))

    threads = [threading.Thread(target=thread) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put(merge(results))


def toggler(deadline, out):
    h = {"X-Octopus-ApiKey": admin_key, "Content-Type": "application/json"}
    on, toggles = False, 0

    def put(body):
        # A fresh connection each time: one idle for 10 s is closed by the server
        # (keep_alive_secs) before it is used again.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            return call(conn, "PUT", "/api/maintenanceconfiguration", json.dumps(body), h)[0]
        finally:
            conn.close()

    while time.time() < deadline:
        time.sleep(min(10, max(0, deadline - time.time())))
        if time.time() >= deadline:
            break
        on = not on
        status = put({"IsInMaintenanceMode": on, "Message": "load test"})
        assert status == 200, status
        toggles += 1
    if on:
        put({"IsInMaintenanceMode": False})
    out["toggles"] = toggles


def merge(parts):
    """Sums (counts, latencies, errors) triples."""
    counts, latencies, errors = {}, {}, []
    for c, l, e in parts:
        for k, v in c.items():
            counts[k] = counts.get(k, 0) + v
        for k, v in l.items():
            latencies.setdefault(k, []).extend(v)
        errors.extend(e)
    return counts, latencies, errors


if __name__ == "__main__":
    env, releases = setup()
    rss_idle = rss_kb()
    started = time.time()
    deadline = started + seconds
    queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=worker_process, args=(env, releases, deadline, queue)) for _ in range(3)]
    for p in procs:
        p.start()
    toggled = {}
    t = threading.Thread(target=toggler, args=(deadline, toggled))
    t.start()
    time.sleep(WARMUP)
    rss_start = rss_kb()
    rss_max = rss_start
    while time.time() < deadline:
        time.sleep(1)
        rss_max = max(rss_max, rss_kb())
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    t.join()
    elapsed = time.time() - started
    rss_end = rss_kb()
    time.sleep(SETTLE)
    rss_settled = rss_kb()
    breakdown = memory_breakdown()
    counts, latencies, errors = merge(results)
    total = sum(counts.values())
    everything = [x for v in latencies.values() for x in v]
    print(json.dumps({
        "seconds": round(elapsed, 1), "requests": total, "rps": round(total / elapsed, 1),
        "p50_ms": round(pct(everything, 0.5), 2), "p99_ms": round(pct(everything, 0.99), 2),
        "per_kind": {k: {"n": len(v), "p50_ms": round(pct(v, 0.5), 2), "p99_ms": round(pct(v, 0.99), 2)} for k, v in latencies.items()},
        "statuses": dict(sorted(counts.items())), "errors": len(errors), "error_samples": errors[:5],
        "toggles": toggled.get("toggles", 0),
        "rss_idle_kb": rss_idle, "rss_start_kb": rss_start, "rss_end_kb": rss_end, "rss_max_kb": rss_max,
        "rss_settled_kb": rss_settled, "settle_s": SETTLE, "settled": breakdown,
    }))
