"""The published SandboxFusion clients against `securecoderl serve`, unchanged but for the URL:
the `sandbox-fusion` package's run_code, and veRL's own caller (verl/utils/reward_score/sandbox_fusion/
utils.py from the `verl` package, loaded by path because `import verl` needs torch and Ray).
Usage: python sandbox_fusion_compat.py http://127.0.0.1:PORT"""

import importlib.util
import os
import sys

base = sys.argv[1]

from sandbox_fusion import RunCodeRequest, RunStatus, run_code

ok = run_code(RunCodeRequest(code="a, b = map(int, input().split())\nprint(a + b)\n", stdin="20 22\n", language="python"),
              endpoint=base)
assert ok.status == RunStatus.Success, ok
assert ok.run_result.stdout == "42\n" and ok.run_result.return_code == 0, ok
bad = run_code(RunCodeRequest(code="raise SystemExit(4)\n", language="python"), endpoint=base)
assert bad.status == RunStatus.Failed and bad.run_result.return_code == 4, bad
slow = run_code(RunCodeRequest(code="while True: pass\n", language="python", run_timeout=1), endpoint=base)
assert slow.run_result.status == "TimeLimitExceeded", slow
try:
    run_code(RunCodeRequest(code="int main(){}", language="cpp"), endpoint=base, max_attempts=1)
    raise AssertionError("cpp was accepted")
except Exception as e:
    assert "400" in str(e) and "python" in str(e), e
print("sandbox-fusion client: ok")

spec = importlib.util.find_spec("verl")
utils_path = os.path.join(spec.submodule_search_locations[0], "utils", "reward_score", "sandbox_fusion", "utils.py")
mod_spec = importlib.util.spec_from_file_location("verl_sandbox_fusion_utils", utils_path)
verl_sf = importlib.util.module_from_spec(mod_spec)
mod_spec.loader.exec_module(verl_sf)

in_outs = {"inputs": ["1 2\n", "-5 5\n", "7 -10\n"], "outputs": ["3\n", "0\n", "-3\n"]}
results, meta = verl_sf.check_correctness(base + "/run_code", in_outs, "a, b = map(int, input().split())\nprint(a + b)\n")
assert results == [True, True, True], (results, meta)
results, _ = verl_sf.check_correctness(base + "/run_code", in_outs, "a, b = map(int, input().split())\nprint(a - b)\n")
assert results == [False, False, False], results
# veRL's codes: -2 runtime error, -3 timeout, -4 compile error (not for Python, as with SandboxFusion).
results, _ = verl_sf.check_correctness(base + "/run_code", in_outs, "print(1/0)\n")
assert results == [-2, -2, -2], results
results, _ = verl_sf.check_correctness(base + "/run_code", {"inputs": [""], "outputs": [""]}, "while True: pass\n", timeout=1)
assert results == [-3], results
print("verl sandbox_fusion check_correctness: ok")
