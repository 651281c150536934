# The warm Bandit worker of scrl-pycheck: one Python process that runs Bandit as a library over many
# sources. Protocol (one JSON object per line both ways): the first line out is {"ready": true,
# "version": ...} or {"ready": false, "error": ...}; then each request {"source": "..."} gets
# {"parsed": bool, "results": [Bandit result dicts]}. Configured like `bandit -ll --ignore-nosec`: every
# test, MEDIUM and HIGH severity, any confidence, `# nosec` comments ignored.
import io
import json
import logging
import sys

logging.disable(logging.CRITICAL)
try:
    import bandit
    from bandit.core import config as b_config
    from bandit.core import constants as b_constants
    from bandit.core import manager as b_manager
except Exception as exc:  # report any import failure to the Rust side instead of a traceback
    print(json.dumps({"ready": False, "error": f"cannot import bandit: {exc!r}"}), flush=True)
    sys.exit(1)

conf = b_config.BanditConfig()
print(json.dumps({"ready": True, "version": bandit.__version__}), flush=True)

for line in sys.stdin:
    request = json.loads(line)
    data = request["source"].encode("utf-8", "surrogatepass")
    mgr = b_manager.BanditManager(conf, "file", quiet=True, ignore_nosec=True)
    mgr.files_list = ["<stdin>"]
    # The same call Bandit makes for `bandit -`: parse and test one in-memory file.
    mgr._parse_file("<stdin>", io.BytesIO(data), list(mgr.files_list))
    issues = mgr.get_issue_list(sev_level=b_constants.MEDIUM, conf_level=b_constants.UNDEFINED)
    results = []
    for issue in issues:
        d = issue.as_dict(with_code=False)
        results.append({k: d[k] for k in ("test_id", "test_name", "issue_severity", "issue_confidence",
                                          "line_number", "col_offset", "line_range", "issue_text")})
    print(json.dumps({"parsed": not mgr.skipped, "results": results}), flush=True)
