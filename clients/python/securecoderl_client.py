"""Client for `securecoderl serve` (docs/serve.md), standard library only: copy this file next to a trainer.

    from securecoderl_client import Client
    c = Client(["http://10.0.0.5:8910", "http://10.0.0.6:8910"], token="...")
    rows = c.score([{"tests": [{"input": "1 2\\n", "output": "3\\n"}], "completion": program}])
    rows[0]["reward"], rows[0]["stage"], rows[0]["verdicts"]

Requests go to the servers in turn; a server that refuses (connection error), is full (503, 429) or
timed out (504) is skipped and the request retried on the next one after its Retry-After, so many
servers behind no load balancer at all still share the work. Every other error raises: the client
never makes up a score.
"""

import itertools
import json
import threading
import time
import urllib.error
import urllib.request

RETRYABLE = {429, 503, 504}


class ServerError(Exception):
    """The server answered with an error (a 4xx names the field in `field`)."""

    def __init__(self, status, message, field=None):
        super().__init__(f"HTTP {status}: {message}" + (f" (field {field})" if field else ""))
        self.status, self.message, self.field = status, message, field


class Client:
    def __init__(self, urls, token=None, timeout_s=600.0, attempts=8):
        self.urls = [u.rstrip("/") for u in ([urls] if isinstance(urls, str) else urls)]
        if not self.urls:
            raise ValueError("give at least one server URL")
        self.token, self.timeout_s, self.attempts = token, timeout_s, attempts
        self._next = itertools.cycle(range(len(self.urls)))
        self._lock = threading.Lock()

    def _post(self, path, body):
        data = json.dumps(body).encode()
        last = None
        for attempt in range(self.attempts):
            with self._lock:
                url = self.urls[next(self._next)]
            req = urllib.request.Request(url + path, data=data, method="POST")
            req.add_header("Content-Type", "application/json")
            if self.token:
                req.add_header("Authorization", "Bearer " + self.token)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as e:
                try:
                    err = json.loads(e.read())
                except ValueError:
                    err = {}
                if e.code not in RETRYABLE:
                    raise ServerError(e.code, err.get("error", e.reason), err.get("field")) from None
                last = ServerError(e.code, err.get("error", e.reason))
                wait = float(e.headers.get("Retry-After") or 1)
            except (urllib.error.URLError, ConnectionError) as e:
                last, wait = e, 0.2 * (attempt + 1)
            # Try the next server at once; wait only once every server has been tried.
            if (attempt + 1) % len(self.urls) == 0:
                time.sleep(wait)
        raise last

    def score(self, items, reward=None):
        """Items are {"completion": CODE, "tests": [{"input", "output"}, ...]} or {"completion", "problem": ID}.
        Returns one `score --json` row per item, in order."""
        body = {"items": list(items)}
        if reward:
            body["reward"] = reward
        return self._post("/score", body)["results"]

    def rewards(self, completions, tests, reward=None):
        """The joint reward of each completion against its tests (a list of {"input", "output"} each)."""
        rows = self.score([{"completion": c, "tests": t} for c, t in zip(completions, tests)], reward)
        return [r["reward"] for r in rows]

    def run_code(self, code, stdin="", run_timeout=10):
        """SandboxFusion's /run_code for Python; returns its RunCodeResponse as a dict."""
        return self._post("/run_code", {"code": code, "stdin": stdin, "language": "python", "run_timeout": run_timeout})


def trl_reward_func(client, tests_column="tests", reward=None):
    """A TRL `reward_funcs` entry: TRL passes the dataset's columns as keyword arguments, so a column named
    `tests_column` holding each prompt's tests gives every completion its tests."""

    def securecoderl_reward(completions, **kwargs):
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        return client.rewards(texts, kwargs[tests_column], reward)

    return securecoderl_reward
