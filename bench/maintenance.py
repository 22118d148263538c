"""Maintenance mode benchmark, driven by bench/maintenance.sh."""
import http.client
import json
import os
import subprocess
import sys
import time
from datetime import datetime

port, admin, writer = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def call(key, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"X-Octopus-ApiKey": key, "Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, json.loads(r.read() or b"null")


env = call(admin, "POST", "/api/environments", {"Name": "Production"})[1]["Id"]
project = call(admin, "POST", "/api/projects", {"Name": "Bench", "DeploymentScript": "sleep 1"})[1]["Id"]
release = call(admin, "POST", "/api/releases", {"ProjectId": project, "Version": "1"})[1]["Id"]
tomorrow = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 86400))
lua = f"/tmp/maint-{port}.lua"
with open(lua, "w") as f:
    f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.body = \'{{"ReleaseId": "{release}", "EnvironmentId": "{env}", "QueueTime": "{tomorrow}"}}\'\n')


def wrk(key, path, script=None, secs=5):
    cmd = ["wrk", "-t2", "-c8", f"-d{secs}s", "-H", f"X-Octopus-ApiKey: {key}"] + (["-s", script] if script else [])
    out = subprocess.run(cmd + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True).stdout
    rps = float(next(l.split()[1] for l in out.splitlines() if l.startswith("Requests/sec")))
    non2xx = int(next((l.split()[-1] for l in out.splitlines() if "Non-2xx" in l), "0"))
    return rps, non2xx


def set_mode(on):
    assert call(admin, "PUT", "/api/maintenanceconfiguration", {"Id": "maintenance", "IsInMaintenanceMode": on})[0] == 200


health, _ = wrk(writer, "/api/health")
# The mode check's cost on an allowed change: a non-administrator's POST (checked in the
# guard and in the transaction) against an administrator's (not checked), same build.
checked, _ = wrk(writer, "/api/deployments", lua)
unchecked, _ = wrk(admin, "/api/deployments", lua)
checked2, _ = wrk(writer, "/api/deployments", lua)
checked = (checked + checked2) / 2
set_mode(True)
refused, refused_non2xx = wrk(writer, "/api/deployments", lua)

# Time from the last task's end to IsQuiet: true.
task = call(admin, "POST", "/api/deployments", {"ReleaseId": release, "EnvironmentId": env})[1]["TaskId"]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
while True:
    c.request("GET", "/api/maintenanceconfiguration/status", headers={"X-Octopus-ApiKey": admin})
    s = json.loads(c.getresponse().read())
    if s["IsQuiet"]:
        quiet_at = time.time() * 1000
        break
completed = datetime.fromisoformat(call(admin, "GET", f"/api/tasks/{task}")[1]["CompletedTime"]).timestamp() * 1000
set_mode(False)
print(json.dumps({"health": health, "refused": refused, "refused_non2xx": refused_non2xx,
                  "checked": checked, "unchecked": unchecked, "quiet_ms": quiet_at - completed}))
