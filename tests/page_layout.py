"""Where a web page's content spills out of its boxes, as headless Chromium lays it out: loads the
page in a window of the given width over the DevTools protocol (websockets, from the test venv),
lets its scripts run, and prints a JSON list naming each element matched by SELECTOR whose
content is wider than its box, and the page itself when it scrolls sideways.

    python tests/page_layout.py URL SELECTOR [WIDTH] [WAIT_MS]

Needs chromium (TICKBAR_CHROMIUM, or on PATH) and the websockets package.
"""

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

# Elements of SELECTOR (and the document) whose content is wider than their box, by a path of
# tag#id.class names and the two widths.
MEASURE = """(selector => {
  const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : "");
  const found = [];
  const page = document.documentElement;
  if (page.scrollWidth > page.clientWidth) found.push({element: "document", content: page.scrollWidth, box: page.clientWidth});
  for (const el of document.querySelectorAll(selector)) {
    if (el.scrollWidth > el.clientWidth + 1) {
      const inner = el.querySelector("[id]");
      found.push({element: name(el) + (inner ? " > " + name(inner) : ""), content: el.scrollWidth, box: el.clientWidth});
    }
  }
  return JSON.stringify(found);
})"""


def devtools_port(profile, browser):
    """The port Chromium wrote to its profile's DevToolsActivePort once it listens."""
    marker = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if browser.poll() is not None:
            raise SystemExit(f"chromium exited with {browser.returncode}")
        if os.path.exists(marker):
            with open(marker) as f:
                first = f.readline().strip()
            if first:
                return int(first)
        time.sleep(0.05)
    raise SystemExit("chromium did not open its DevTools port within 30 s")


class Page:
    """One page target, driven by numbered DevTools commands."""

    def __init__(self, socket):
        self.socket = socket
        self.next_id = 0

    async def call(self, method, **params):
        self.next_id += 1
        await self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            answer = json.loads(await self.socket.recv())
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise SystemExit(f"{method}: {answer['error']}")
                return answer["result"]

    async def evaluate(self, expression):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")


async def measure(port, url, selector, width, wait_ms):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as answer:
        target = next(t for t in json.load(answer) if t["type"] == "page")
    async with websockets.connect(target["webSocketDebuggerUrl"], max_size=None) as socket:
        page = Page(socket)
        await page.call("Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1, mobile=False)
        await page.call("Page.navigate", url=url)
        deadline = time.monotonic() + 30
        while await page.evaluate("document.readyState") != "complete":
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not load within 30 s")
            await asyncio.sleep(0.05)
        await asyncio.sleep(wait_ms / 1000)
        return await page.evaluate(f"{MEASURE}({json.dumps(selector)})")


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    url, selector = sys.argv[1], sys.argv[2]
    width = int(sys.argv[3]) if len(sys.argv) > 3 else 1280
    wait_ms = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
    binary = os.environ.get("TICKBAR_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        raise SystemExit("no chromium: apt-get install -y chromium")
    profile = tempfile.mkdtemp(prefix="tickbar-layout-")
    browser = subprocess.Popen(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        print(asyncio.run(measure(devtools_port(profile, browser), url, selector, width, wait_ms)))
    finally:
        browser.kill()
        browser.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
