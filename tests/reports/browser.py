"""A minimal Chrome DevTools Protocol client over --remote-debugging-pipe (stdlib only).

Starts Debian's headless Chromium with a fresh profile, talks CDP over two pipes (fd 3: commands
in, fd 4: replies out, NUL-separated JSON), and collects console errors and uncaught exceptions.
Used by the report tests and by benchmarks/perf/report_size.py.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--mute-audio", "--hide-scrollbars"]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        p = shutil.which(name)
        if p:
            return p
    return None


class CDPError(RuntimeError):
    pass


class Browser:
    """One headless Chromium; `open(url)` gives a Page. Use as a context manager."""

    def __init__(self, exe: str | None = None, timeout: float = 60.0) -> None:
        self.exe = exe or find_chromium()
        if not self.exe:
            raise CDPError("chromium not found (apt-get install -y chromium)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="evalsuite-chromium-")
        cmd_r, self._cmd_w = os.pipe()
        self._out_r, out_w = os.pipe()
        # the child's ends must not sit on fd 3 or 4, or the redirections clobber them (bash: fds > 9 are fine)
        cmd_r, out_w = (self._high_fd(fd) for fd in (cmd_r, out_w))
        script = f'exec "$0" "$@" 3<&{cmd_r} 4>&{out_w}'
        self.proc = subprocess.Popen(
            [shutil.which("bash") or "/bin/bash", "-c", script, self.exe, *FLAGS, "--remote-debugging-pipe",
             f"--user-data-dir={self.profile}", "about:blank"],
            pass_fds=(cmd_r, out_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(cmd_r)
        os.close(out_w)
        self._next = 0
        self._lock = threading.Lock()
        self._cv = threading.Condition()
        self._replies: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @staticmethod
    def _high_fd(fd: int) -> int:
        import fcntl

        high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
        os.close(fd)
        return high

    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._out_r, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cv:
                    self._cv.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._cv:
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                    self._cv.notify_all()

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float | None = None) -> dict[str, Any]:
        with self._lock:
            self._next += 1
            mid = self._next
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        try:
            os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        except BrokenPipeError as e:
            raise CDPError(f"{method}: chromium exited (rc={self.proc.poll()}); run {self.exe} --headless by hand "
                           "to see why") from e
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._cv:
            while mid not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise CDPError(f"{method}: no reply (browser {'exited' if self.proc.poll() is not None else 'timed out'})")
                self._cv.wait(min(left, 0.5))
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str, session: str | None = None, timeout: float | None = None,
                   after: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._cv:
            while True:
                for ev in self.events[after:]:
                    if ev.get("method") == method and (session is None or ev.get("sessionId") == session):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CDPError(f"timed out waiting for {method}")
                self._cv.wait(min(left, 0.5))

    def open(self, url: str, width: int = 1400, height: int = 1000) -> "Page":
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, sid)
        for dom in ("Page", "Runtime", "Log"):
            self.send(f"{dom}.enable", session=sid)
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                         "mobile": False}, session=sid)
        page.navigate(url)
        return page

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close", timeout=5)
                except CDPError:
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, 9)
                    self.proc.wait(timeout=10)
        finally:
            for fd in (self._cmd_w, self._out_r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Page:
    def __init__(self, browser: Browser, session: str) -> None:
        self.b = browser
        self.session = session
        self.load_ms: float | None = None

    def navigate(self, url: str) -> None:
        mark = len(self.b.events)
        t0 = time.perf_counter()
        self.b.send("Page.navigate", {"url": url}, session=self.session)
        self.b.wait_event("Page.loadEventFired", session=self.session, after=mark)
        self.load_ms = (time.perf_counter() - t0) * 1000

    def eval(self, expr: str) -> Any:
        r = self.b.send("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True},
                        session=self.session)
        if "exceptionDetails" in r:
            raise CDPError(f"evaluate {expr[:60]!r}: {r['exceptionDetails'].get('exception', {}).get('description') or r['exceptionDetails']}")
        return r.get("result", {}).get("value")

    def wait_for(self, expr: str, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            v = self.eval(expr)
            if v:
                return v
            if time.monotonic() > deadline:
                raise CDPError(f"timed out waiting for {expr!r}")
            time.sleep(0.05)

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries (CSP violations, failed loads)."""
        out = []
        for ev in self.b.events:
            if ev.get("sessionId") != self.session:
                continue
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console.error: " + " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def screenshot(self, path: str | Path, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
        data = self.b.send("Page.captureScreenshot", params, session=self.session)["data"]
        p = Path(path)
        p.write_bytes(base64.b64decode(data))
        return p


def main(argv: list[str] | None = None) -> int:
    """`python -m tests.reports.browser REPORT.html OUT.png [--at SELECTOR]`: a headless-Chromium
    screenshot of a report, scrolled to SELECTOR (how docs/img/report-*.png are taken)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m tests.reports.browser")
    ap.add_argument("report")
    ap.add_argument("out")
    ap.add_argument("--at", default=None, help="CSS selector scrolled to the top before the shot")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=1000)
    a = ap.parse_args(argv)
    with Browser() as b:
        page = b.open(Path(a.report).resolve().as_uri(), a.width, a.height)
        page.wait_for("document.body.getAttribute('data-ready') === '1'")
        if a.at:
            page.eval(f"document.querySelector({json.dumps(a.at)}).scrollIntoView()")
        page.screenshot(a.out)
        errors = page.errors()
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
