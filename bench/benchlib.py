"""What the benchmark drivers share: JSON calls on a keep-alive connection, percentiles,
a process's resident memory."""
import http.client
import json


def call_json(conn, method, path, body=None, headers=None):
    """(status, parsed JSON, or the raw bytes when the answer is not JSON). A keep-alive
    connection the server closed while it sat idle (after `keep_alive_secs`) is opened
    again once, as browsers and HTTP libraries do: the closed one never carried the
    request."""
    payload = json.dumps(body) if body is not None else None
    for attempt in (1, 2):
        try:
            conn.request(method, path, body=payload, headers=headers or {})
            r = conn.getresponse()
            break
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            conn.close()
            if attempt == 2:
                raise
    data = r.read()
    return r.status, (json.loads(data) if data and data[:1] in b"{[" else data)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    return 0
