"""Write-load generator: inventory counts and invoices through the HTTP API, bounded by count and time."""
import datetime
import itertools
import random
import threading
import time
import uuid

# Imported under another name: run()'s `requests` parameter (a count) would shadow the module.
import requests as http

REQUEST_TIMEOUT = 10.0


class LoadError(RuntimeError):
    pass


def _login(base_url, username, password, timeout):
    response = http.post(base_url + "/api/auth/login", json={"username": username, "password": password},
                         timeout=timeout)
    if response.status_code != 200:
        raise LoadError("login failed: HTTP %d %s" % (response.status_code, response.text[:200]))
    return response.json()["token"]


def _item_codes(base_url, timeout):
    response = http.get(base_url + "/api/inventory/items", params={"limit": 100}, timeout=timeout)
    response.raise_for_status()
    codes = [item["item_code"] for item in response.json()["items"]]
    if not codes:
        raise LoadError("the service has no items to write against: run `inventory-service seed` first")
    return codes


def run(base_url, username, password, requests=100, seconds=30.0, concurrency=4):
    """POST writes until `requests` were sent or `seconds` passed, whichever comes first."""
    if requests < 0 or seconds <= 0 or concurrency < 1:
        raise ValueError("requests must be >= 0, seconds > 0 and concurrency >= 1")
    base_url = base_url.rstrip("/")
    start = time.monotonic()
    deadline = start + seconds
    timeout = max(1.0, min(REQUEST_TIMEOUT, seconds))
    token = _login(base_url, username, password, timeout)
    codes = _item_codes(base_url, timeout)
    run_id = uuid.uuid4().hex[:8]
    numbers = itertools.count(1)
    totals = {"sent": 0, "ok": 0, "failed": 0}
    lock = threading.Lock()
    today = datetime.date.today().isoformat()

    def claim():
        with lock:
            if totals["sent"] >= requests or time.monotonic() >= deadline:
                return None
            totals["sent"] += 1
            return next(numbers)

    def worker(worker_id):
        rng = random.Random("%s-%d" % (run_id, worker_id))
        session = http.Session()
        session.headers["Authorization"] = "Bearer " + token
        try:
            while True:
                number = claim()
                if number is None:
                    return
                picked = rng.sample(codes, min(len(codes), rng.randint(1, 5)))
                if number % 2:
                    path = "/api/inventory/counts"
                    body = {"count_date": today, "location": "load-%s" % run_id,
                            "items": [{"item_code": c, "quantity": round(rng.uniform(0, 50), 2)} for c in picked]}
                else:
                    path = "/api/invoices"
                    body = {"invoice_number": "LOAD-%s-%06d" % (run_id, number), "vendor": "Load Generator",
                            "invoice_date": today,
                            "lines": [{"item_code": c, "quantity": round(rng.uniform(1, 20), 2),
                                       "amount": round(rng.uniform(5, 200), 2)} for c in picked]}
                try:
                    remaining = max(0.5, deadline - time.monotonic())
                    ok = session.post(base_url + path, json=body, timeout=min(timeout, remaining)).status_code == 201
                except http.RequestException:
                    ok = False
                with lock:
                    totals["ok" if ok else "failed"] += 1
        finally:
            session.close()

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    return dict(totals, elapsed=round(elapsed, 3), rps=round(totals["sent"] / elapsed, 2) if elapsed else 0.0)
