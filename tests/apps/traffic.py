"""Background traffic for perfbook's tests, in its own process: ``python traffic.py -c 8 -d 10 URL…``.

``-c`` workers each request the URLs in turn (one request in flight per worker) until ``-d``
seconds have passed; stdlib only, loopback only. Prints ``requests N errors N`` when done.
"""

from __future__ import annotations

import argparse
import threading
import time
import urllib.error
import urllib.request


def worker(urls: list[str], offset: int, until: float, counts: list[int], lock: threading.Lock) -> None:
    i = offset
    while time.monotonic() < until:
        url = urls[i % len(urls)]
        i += 1
        try:
            with urllib.request.urlopen(url, timeout=15) as response:
                response.read()
            failed = 0
        except urllib.error.HTTPError:
            failed = 1
        except OSError:
            failed = 1
            time.sleep(0.05)  # the app is not up (or going down): do not spin
        with lock:
            counts[0] += 1
            counts[1] += failed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--concurrency", type=int, default=4)
    parser.add_argument("-d", "--duration", type=float, default=10.0)
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args()
    if any(not u.startswith(("http://127.0.0.1", "http://localhost")) for u in args.urls):
        raise SystemExit("traffic.py sends to loopback only")
    until, counts, lock = time.monotonic() + args.duration, [0, 0], threading.Lock()
    threads = [
        threading.Thread(target=worker, args=(args.urls, n, until, counts, lock))
        for n in range(args.concurrency)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"requests {counts[0]} errors {counts[1]}", flush=True)


if __name__ == "__main__":
    main()
