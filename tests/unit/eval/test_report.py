"""The report writes JSON, Markdown and a PNG with one row per method."""

import json

from stream_align.eval.report import MethodResult, write_report


def _result(name: str) -> MethodResult:
    return MethodResult(method=name, ranking={"hits1": 0.5, "hits10": 0.9, "mrr": 0.6},
                        assignment={"hungarian": 0.7}, protocol={"prauc": 0.8, "best_f1": 0.75,
                                                                 "recall_at_p95": 0.4},
                        pr_curve=[(0.0, 1.0), (0.5, 0.9), (1.0, 0.5)], train_seconds=None,
                        eval_seconds=1.5, fit_peak_rss_mb=300.0, peak_rss_mb=321.0,
                        notes=["a note"])


def test_report_writes_all_three_files(tmp_path):
    paths = write_report([_result("names"), _result("model:x")], {"dataset": "toy"}, tmp_path)
    assert sorted(p.name for p in paths) == ["pr_curve.png", "report.json", "report.md"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert paths[2].read_bytes()[:4] == b"\x89PNG"
    data = json.loads(paths[0].read_text())
    assert [m["method"] for m in data["methods"]] == ["names", "model:x"]
    table = paths[1].read_text()
    row = ("| names | 0.500 | 0.900 | 0.600 | 0.700 | 0.800 | 0.750 | 0.400 | n/a | 1.5 "
           "| 300 / 321 |")
    assert row in table
    assert "Hits@1 1:1 (hungarian)" in table and "- names: a note" in table
