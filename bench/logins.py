"""Sign-in load for bench/run.sh: THREADS threads, each signing in as admin over and over
(fetch the form for its CSRF cookie and token, post it) on one keep-alive connection,
for SECONDS seconds. Prints how many sign-ins succeeded and how many failed."""
import http.client
import re
import sys
import threading
import time
import urllib.parse

port, password, threads, seconds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
ok = failed = 0
lock = threading.Lock()
stop = time.monotonic() + seconds


def cookies_of(response):
    return [h.split(";", 1)[0] for k, h in response.getheaders() if k.lower() == "set-cookie"]


def worker():
    global ok, failed
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < stop:
        conn.request("GET", "/login")
        page = conn.getresponse()
        body = page.read().decode()
        jar = "; ".join(c for c in cookies_of(page) if c.startswith("drydock_login_csrf="))
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', body).group(1)
        form = urllib.parse.urlencode({"username": "admin", "password": password, "csrf_token": token})
        conn.request("POST", "/login", body=form, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": jar})
        result = conn.getresponse()
        result.read()
        with lock:
            if result.status == 303:
                ok += 1
            else:
                failed += 1


workers = [threading.Thread(target=worker) for _ in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()
print(ok, failed)
