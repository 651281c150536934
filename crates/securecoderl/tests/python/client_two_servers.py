"""clients/python/securecoderl_client.py spreading score requests over two servers, and its TRL reward
function. Usage: python client_two_servers.py CLIENT_DIR URL1 URL2 TOKEN"""

import sys

sys.path.insert(0, sys.argv[1])
from securecoderl_client import Client, ServerError, trl_reward_func

urls, token = sys.argv[2:4], sys.argv[4]
c = Client(urls, token=token)
tests = [{"input": "1 2\n", "output": "3\n"}, {"input": "5 5\n", "output": "10\n"}]
good = "a, b = map(int, input().split())\nprint(a + b)\n"
for i in range(8):
    rows = c.score([{"completion": good + f"# {i}\n", "tests": tests}, {"completion": "print(3)\n", "tests": tests}])
    assert rows[0]["reward"] == 1.0 and rows[0]["verdicts"] == ["accepted", "accepted"], rows[0]
    assert rows[1]["verdicts"] == ["accepted", "wrong_answer"], rows[1]

reward = trl_reward_func(c)
conversational = [[{"role": "assistant", "content": good}], [{"role": "assistant", "content": "print('x'"}]]
got = reward(conversational, tests=[tests, tests])
assert got[0] == 1.0 and got[1] < 0.5, got
assert reward([good], tests=[tests]) == [1.0]

try:
    Client(urls, token="wrong").score([{"completion": good, "tests": tests}])
    raise AssertionError("a wrong token was accepted")
except ServerError as e:
    assert e.status == 401, e
try:
    c.score([{"completion": 5, "tests": tests}])
    raise AssertionError("a bad item was accepted")
except ServerError as e:
    assert e.status == 400 and e.field == "items[0].completion", e
# A server that is gone (nothing listens on the port) is skipped: every request lands on the live one.
import socket

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    dead = "http://127.0.0.1:%d" % s.getsockname()[1]
with_dead = Client([dead, urls[0]], token=token)
for i in range(2):
    assert with_dead.score([{"completion": good, "tests": tests}])[0]["reward"] == 1.0
print("two servers: ok")
