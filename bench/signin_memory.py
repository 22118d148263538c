"""Sign-in memory (bench/memory.sh): resident memory of `serve` before, at its peak during
a burst of TOTAL sign-ins THREADS at once, and SETTLE seconds after. A sign-in that is
told to wait (429, the hashing slots are busy) is retried after its Retry-After."""
import http.client
import re
import sys
import threading
import time
import urllib.parse

from benchlib import rss_kb

port, password, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
total, threads, settle = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
lock = threading.Lock()
left = total
ok = retried = failed = 0
peak = 0
running = True


def sample():
    global peak
    while running:
        peak = max(peak, rss_kb(pid))
        time.sleep(0.005)


def cookies_of(response):
    return [h.split(";", 1)[0] for k, h in response.getheaders() if k.lower() == "set-cookie"]


def worker():
    global left, ok, retried, failed
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while True:
        with lock:
            if left == 0:
                return
            left -= 1
        while True:
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
            if result.status == 429:
                with lock:
                    retried += 1
                time.sleep(float(result.getheader("Retry-After") or 1))
                continue
            with lock:
                if result.status == 303:
                    ok += 1
                else:
                    failed += 1
            break


before = rss_kb(pid)
sampler = threading.Thread(target=sample)
sampler.start()
started = time.monotonic()
workers = [threading.Thread(target=worker) for _ in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()
took = time.monotonic() - started
time.sleep(settle)
running = False
sampler.join()
after = rss_kb(pid)
print(f"sign-ins: {ok} ok, {failed} failed, {retried} told to wait, in {took:.1f} s")
print(f"rss_kb before={before} peak={peak} after_{settle:g}s={after}")
