"""The README's "Reliability and security" section is generated from results files, never by hand."""

from __future__ import annotations

import copy
import json

from bench import report_reliability

LOAD = {
    "name": "load",
    "scale": {"customers": 100000, "orders": 200000, "users": 50, "think_s": 1.0, "duration_s": 30.0,
              "gunicorn": "2 workers x 4 threads", "cpus": 2, "loadavg": "1.2 → 1.9"},
    "baseline": {"bare_throughput_per_s": 48.2, "bare_p95_ms": 21.0},
    "ok": False,
    "details": {"pages": {"customer_list": {"label": "客户列表 /customers/", "p95_ms": 412.5, "per_s": 40.1,
                                            "share_of_bare": 0.832, "errors": 0}}},
}  # fmt: skip
SCHEMATHESIS = {
    "schemathesis": "4.1.0",
    "checks": ["not_a_server_error", "status_code_conformance"],
    "operations": 57,
    "cases": 4321,
    "failures": 0,
    "runs": {"operator": {"cases": 4000, "server_errors": 0, "failures": 0, "seconds": 80.0},
             "unauthenticated": {"cases": 321, "server_errors": 0, "failures": 0, "seconds": 5.0}},
}  # fmt: skip


ISOLATION = {
    "routes": 158,
    "probes": 300,
    "leaks": 1,
    "runs": {"organization": {"probes": 218, "leaks": 0, "server_errors": 0, "markers": 49, "seconds": 14.4},
             "store": {"probes": 82, "leaks": 1, "server_errors": 0, "markers": 40, "seconds": 6.0}},
}  # fmt: skip


def write_all(tmp_path) -> None:
    (tmp_path / "load.json").write_text(json.dumps(LOAD))
    (tmp_path / "schemathesis.json").write_text(json.dumps(SCHEMATHESIS))
    (tmp_path / "isolation.json").write_text(json.dumps(ISOLATION))


def test_the_section_carries_the_measured_figures(tmp_path, capsys):
    write_all(tmp_path)
    assert report_reliability.main(["--results", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "**300** probes over 158 routes, **1** leaks" in out
    assert "a store clerk, against the other stores' rows: 82 probes, 1 leaks, 0 5xx" in out
    assert "## Reliability and security" in out and err == ""
    assert "**4321** cases tried, **0** server errors" in out
    assert "| 客户列表 /customers/ | 412.5 | 40.1 | 83 % | 0 |" in out
    assert "100,000 customers" in out and "All targets met: **no**" in out


def test_an_absent_file_is_named_not_skipped(tmp_path, capsys):
    (tmp_path / "load.json").write_text(json.dumps(LOAD))
    (tmp_path / "isolation.json").write_text(json.dumps(ISOLATION))
    assert report_reliability.main(["--results", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert "schemathesis.json is absent" in out
    assert "missing:" in err and "schemathesis.json: absent" in err


def test_an_absent_isolation_run_is_named(tmp_path, capsys):
    write_all(tmp_path)
    (tmp_path / "isolation.json").write_text(json.dumps({**ISOLATION, "runs": {"organization": {}}}))
    assert report_reliability.main(["--results", str(tmp_path)]) == 1
    assert "isolation.json: no runs.store" in capsys.readouterr().err


def test_a_missing_figure_is_named(tmp_path, capsys):
    (tmp_path / "load.json").write_text(json.dumps(LOAD))
    (tmp_path / "isolation.json").write_text(json.dumps(ISOLATION))
    (tmp_path / "schemathesis.json").write_text(json.dumps({k: v for k, v in SCHEMATHESIS.items() if k != "cases"}))
    assert report_reliability.main(["--results", str(tmp_path)]) == 1
    assert "schemathesis.json: no cases" in capsys.readouterr().err


def test_the_readme_section_is_replaced_between_its_markers(tmp_path):
    write_all(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text("# SCRM\n\nintro\n\n## Benchmarks\n\nfigures\n")
    report_reliability.main(["--results", str(tmp_path), "--readme", str(readme)])
    first = readme.read_text()
    assert first.index("## Reliability and security") < first.index("## Benchmarks")
    again = copy.deepcopy(LOAD)
    again["baseline"]["bare_throughput_per_s"] = 51.0
    (tmp_path / "load.json").write_text(json.dumps(again))
    report_reliability.main(["--results", str(tmp_path), "--readme", str(readme)])
    second = readme.read_text()
    assert second.count("## Reliability and security") == 1 and "51.0" in second and "48.2" not in second
