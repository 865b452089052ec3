"""The README's "Reliability and security" section, generated from the results files of a run.

Reads ``bench/results/load.json`` (``python -m bench.load``), ``bench/results/schemathesis.json``
(tests/scrm/test_schemathesis.py) and ``bench/results/isolation.json`` (tests/scrm/test_route_isolation.py,
both part of ``make test``), and writes the section between the
``<!-- reliability:start -->`` / ``<!-- reliability:end -->`` markers of README.md (``--readme``),
or prints it. Nothing is filled in by hand: a file that is absent, or a figure missing from one, is
named on stderr and in the section, and the exit status is 1.

    python -m bench.report_reliability [--readme README.md] [--results bench/results]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR

REPO = RESULTS_DIR.parent.parent.resolve()
START, END = "<!-- reliability:start -->", "<!-- reliability:end -->"
SOURCES = {
    "schemathesis.json": "make test (tests/scrm/test_schemathesis.py)",
    "load.json": "python -m bench.load",
    "isolation.json": "make test (tests/scrm/test_route_isolation.py)",
}
ISOLATION_RUNS = {
    "organization": "an operator of another organization",
    "store": "a store clerk, against the other stores' rows",
}


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def missing(self, what: str) -> str:
        self.problems.append(what)
        return "—"


def _get(report: Report, data: dict[str, Any], file: str, *path: str) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return report.missing(f"{file}: no {'.'.join(path)}")
        value = value[key]
    return value


def _shown(path: Path) -> str:
    """The path as the repository names it (README text must not carry a machine's absolute path)."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def _load(report: Report, results: Path, file: str) -> dict[str, Any] | None:
    path = results / file
    if not path.exists():
        report.problems.append(f"{_shown(path)}: absent (produced by {SOURCES[file]})")
        report.lines.append(f"- *{file} is absent — run {SOURCES[file]}.*")
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        report.problems.append(f"{_shown(path)}: not JSON ({exc})")
        report.lines.append(f"- *{file} could not be read.*")
        return None
    if not isinstance(data, dict):
        report.problems.append(f"{_shown(path)}: not a JSON object")
        return None
    return data


def schemathesis_part(report: Report, results: Path) -> None:
    report.lines.append("**API fuzzing** (schemathesis against the project's own OpenAPI schema, in `make test`):")
    report.lines.append("")
    data = _load(report, results, "schemathesis.json")
    if data is None:
        return
    f = "schemathesis.json"
    runs = data.get("runs")
    if isinstance(runs, dict) and runs:
        server_errors: Any = sum(int(r.get("server_errors", 0)) for r in runs.values() if isinstance(r, dict))
    else:
        server_errors = report.missing(f"{f}: no runs.*.server_errors")
    checks = _get(report, data, f, "checks")
    report.lines += [
        f"- schemathesis {_get(report, data, f, 'schemathesis')}, "
        f"{len(checks) if isinstance(checks, list) else checks} checks, "
        f"{_get(report, data, f, 'operations')} operations",
        f"- **{_get(report, data, f, 'cases')}** cases tried, **{server_errors}** server errors (5xx), "
        f"**{_get(report, data, f, 'failures')}** failed checks",
    ]
    if isinstance(runs, dict):
        for name, run in runs.items():
            if isinstance(run, dict):
                report.lines.append(
                    f"  - {name}: {run.get('cases', '—')} cases, {run.get('server_errors', '—')} 5xx, "
                    f"{run.get('failures', '—')} failures in {run.get('seconds', '—')} s"
                )


def isolation_part(report: Report, results: Path) -> None:
    report.lines.append("")
    report.lines.append(
        "**Isolation** (every GET route of the console and the API, `<int:…>` routes with the ids of "
        "rows the prober must not see; a response leaks when it names one of them):"
    )
    report.lines.append("")
    data = _load(report, results, "isolation.json")
    if data is None:
        return
    f = "isolation.json"
    runs = _get(report, data, f, "runs")
    report.lines.append(
        f"- **{_get(report, data, f, 'probes')}** probes over {_get(report, data, f, 'routes')} routes, "
        f"**{_get(report, data, f, 'leaks')}** leaks"
    )
    if not isinstance(runs, dict):
        return
    for name, who in ISOLATION_RUNS.items():
        run = runs.get(name)
        if not isinstance(run, dict):
            report.missing(f"{f}: no runs.{name}")
            continue
        report.lines.append(
            f"  - {who}: {run.get('probes', '—')} probes, {run.get('leaks', '—')} leaks, "
            f"{run.get('server_errors', '—')} 5xx ({run.get('markers', '—')} names watched for, "
            f"{run.get('seconds', '—')} s)"
        )


def load_part(report: Report, results: Path) -> None:
    report.lines.append("")
    report.lines.append("**Load** (`python -m bench.load`, gunicorn on loopback; method in docs/benchmarks.md):")
    report.lines.append("")
    data = _load(report, results, "load.json")
    if data is None:
        return
    f = "load.json"
    scale = _get(report, data, f, "scale")
    scale = scale if isinstance(scale, dict) else {}
    pages = _get(report, data, f, "details", "pages")
    bare = _get(report, data, f, "baseline", "bare_throughput_per_s")
    bare_p95 = _get(report, data, f, "baseline", "bare_p95_ms")
    loadavg = _get(report, data, f, "scale", "loadavg")

    def fmt(value: Any, spec: str) -> str:
        return format(value, spec) if isinstance(value, int | float) else str(value)

    report.lines += [
        f"{fmt(scale.get('customers', '—'), ',')} customers, {fmt(scale.get('orders', '—'), ',')} orders, "
        f"{scale.get('users', '—')} users with {scale.get('think_s', '—')} s think time, "
        f"{scale.get('duration_s', '—')} s per page, gunicorn {scale.get('gunicorn', '—')} on "
        f"{scale.get('cpus', '—')} CPUs shared with the client (load average {loadavg} "
        f"before → after the run, other work on the machine included)"
        + (f"; the machine: {scale['machine']}" if scale.get("machine") else "")
        + ". Targets: p95 ≤ 300 ms and ≥ 50 % of the bare "
        f"view's rate. All targets met: **{'yes' if data.get('ok') else 'no'}**.",
        "",
        "| page | p95 ms | req/s | share of bare | errors |",
        "|---|---:|---:|---:|---:|",
        f"| bare Django view (baseline) | {bare_p95} | {fmt(bare, '.1f')} | 100 % | 0 |",
    ]
    if not isinstance(pages, dict):
        return
    for name, page in pages.items():
        if not isinstance(page, dict):
            report.missing(f"{f}: page {name} is not an object")
            continue
        share = page.get("share_of_bare")
        report.lines.append(
            f"| {page.get('label', name)} | {page.get('p95_ms', '—')} | {fmt(page.get('per_s', '—'), '.1f')} | "
            f"{fmt(share * 100 if isinstance(share, int | float) else share, '.0f')} % | {page.get('errors', '—')} |"
        )


def build(results: Path = RESULTS_DIR) -> Report:
    report = Report()
    report.lines.append("## Reliability and security")
    report.lines.append("")
    report.lines.append(
        "Generated by `python -m bench.report_reliability` from the results files of a run (do not edit by hand)."
    )
    report.lines.append("")
    schemathesis_part(report, results)
    isolation_part(report, results)
    load_part(report, results)
    report.lines += [
        "",
        "**Faults** (`make test`, marked `slow`): a worker SIGKILLed mid-event and mid-dispatch, Redis "
        "restarted (queues lost) and every Postgres session of the test database terminated during inbound "
        "processing and during a dispatch — each event processed once, each planned message sent once "
        "(tests/channels/wecom/test_inbox_faults.py, tests/campaigns/test_dispatch_faults.py). A stuck "
        "event is requeued once its heartbeat is 45 s old (sweep every 15 s).",
    ]
    if report.problems:
        report.lines += ["", "*Missing from this run:* " + "; ".join(report.problems)]
    return report


def write_readme(readme: Path, section: str) -> None:
    text = readme.read_text(encoding="utf-8")
    block = f"{START}\n{section.rstrip()}\n{END}"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        _old, after = rest.split(END, 1)
        text = before + block + after
    else:
        marker = "\n## Benchmarks"
        at = text.find(marker)
        text = text + "\n" + block + "\n" if at < 0 else text[:at] + "\n" + block + "\n" + text[at:]
    readme.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the README's Reliability and security section")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--readme", type=Path, help="write the section into this README (between the markers)")
    args = parser.parse_args(argv)
    report = build(args.results)
    section = "\n".join(report.lines) + "\n"
    if args.readme:
        write_readme(args.readme, section)
        print(f"report_reliability: wrote the section into {args.readme}")
    else:
        print(section)
    for problem in report.problems:
        print(f"report_reliability: missing: {problem}", file=sys.stderr)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
