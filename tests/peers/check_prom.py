"""Parse a metrics.prom with prometheus_client's text-format parser and check what the
parser leaves lenient: every family has HELP and a TYPE other than untyped, names and
label names are valid, no sample has a timestamp (node_exporter's textfile collector
refuses them), and no family appears twice. Prints one line per sample:
`name{label="v",...} value`, sorted labels, then `ok`. Exits 1 on any problem.

(promtool would be the reference checker, but it ships only in Debian's large
`prometheus` package; this parser is the official Python client's.)

Usage: python3 check_prom.py metrics.prom
"""
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

text = open(sys.argv[1], encoding="utf-8").read()
problems = []
if not text.endswith("\n"):
    problems.append("the file does not end with a line feed")
helps = {l.split(" ")[2] for l in text.splitlines() if l.startswith("# HELP ")}
types = [l.split(" ")[2] for l in text.splitlines() if l.startswith("# TYPE ")]
if len(types) != len(set(types)):
    problems.append(f"a TYPE line appears twice: {sorted(types)}")
try:
    families = list(text_string_to_metric_families(text))
except Exception as e:  # the parser raises ValueError and others on malformed input
    print(f"parse error: {e}")
    sys.exit(1)
for f in families:
    if f.type in ("unknown", "untyped"):
        problems.append(f"{f.name}: no TYPE")
    if not f.documentation:
        problems.append(f"{f.name}: no HELP")
    for s in f.samples:
        if not NAME.match(s.name):
            problems.append(f"bad metric name {s.name!r}")
        for k in s.labels:
            if not LABEL.match(k):
                problems.append(f"{s.name}: bad label name {k!r}")
        if s.timestamp is not None:
            problems.append(f"{s.name}: has a timestamp")
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        print(f"{s.name}{{{labels}}} {s.value}")
missing_help = set(types) - helps
if missing_help:
    problems.append(f"TYPE without HELP: {sorted(missing_help)}")
for p in problems:
    print(f"problem: {p}")
if problems:
    sys.exit(1)
print("ok")
