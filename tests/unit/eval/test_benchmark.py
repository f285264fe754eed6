"""The harness end to end: a tiny JAPE-layout dataset on disk, the CLI, the report."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from stream_align.cli import main
from stream_align.cli.benchmark import register as register_benchmark
from stream_align.cli.eval import register as register_eval
from stream_align.cli.exit_codes import ExitCode
from stream_align.eval.benchmark import (
    BenchmarkSettings,
    _check_provenance,
    evaluate,
    method_labels,
    run_benchmark,
)
from stream_align.eval.errors import EvaluationError
from stream_align.eval.scorer import PairScorer


def _write_jape(pair, root):
    """The twin pair as DBP15K files (names from URI local names, test = ref_ent_ids)."""
    offset = pair.a.num_entities  # raw B ids follow A's, as in DBP15K
    for side, graph, base in ((1, pair.a, 0), (2, pair.b, offset)):
        (root / f"ent_ids_{side}").write_text("".join(
            f"{base + i}\thttp://kg{side}/{name.replace(' ', '_')}\n"
            for i, name in enumerate(graph.names)))
        (root / f"rel_ids_{side}").write_text(f"{side}\thttp://kg{side}/linked\n")
        (root / f"triples_{side}").write_text("".join(
            f"{base + h}\t{side}\t{base + t}\n" for h, _, t in graph.triples.tolist()))
    for name, pairs in (("sup_ent_ids", pair.train), ("ref_ent_ids", pair.test)):
        (root / name).write_text("".join(f"{a}\t{offset + b}\n" for a, b in pairs.tolist()))


def _cli(argv):
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    register_benchmark(sub)
    register_eval(sub)
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def dataset(pair, tmp_path):
    data = tmp_path / "twins"
    data.mkdir()
    _write_jape(pair, data)
    return data


def test_benchmark_cli_writes_report_per_method(dataset, tmp_path):
    out = tmp_path / "report"
    code = _cli(["benchmark", "--dataset", str(dataset), "--methods", "names,propagation1",
                 "--assignments", "mutual_best", "--negatives", "3", "--report", str(out),
                 "--in-process"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    rows = {m["method"]: m for m in report["methods"]}
    assert set(rows) == {"names", "propagation1"}
    assert rows["propagation1"]["ranking"]["hits1"] > rows["names"]["ranking"]["hits1"]
    assert rows["propagation1"]["assignment"]["mutual_best"] == 1.0
    assert (out / "report.md").exists() and (out / "pr_curve.png").exists()


def test_isolated_run_measures_the_method_in_its_own_process(dataset):
    settings = BenchmarkSettings(dataset=dataset, methods=("names",), assignments=("hungarian",))
    (result,) = run_benchmark(settings)
    assert result.method == "names" and result.peak_rss_mb > 0
    assert result.ranking["hits1"] == 0.0  # twins tie on names; ties are pessimistic


def test_eval_cli_reports_a_missing_model_as_an_error(dataset, tmp_path, capsys):
    code = main(["eval", "--model", str(tmp_path / "nowhere"), "--dataset", str(dataset),
                 "--report", str(tmp_path / "out"), "--in-process"])
    assert code == ExitCode.MODEL and "nowhere" in capsys.readouterr().err


class _Perfect:
    """A scorer that knows the gold pairs: every metric must come out perfect."""

    name = "oracle"

    def __init__(self, pair):
        self.gold = {tuple(p) for p in pair.test.tolist()}

    def similarity(self, pair, sources, targets):
        return np.array([[float((a, b) in self.gold) for b in targets] for a in sources],
                        dtype=np.float32)

    def score_pairs(self, pair, pairs):
        return np.array([float(tuple(p) in self.gold) for p in pairs.tolist()], np.float32)


def test_an_oracle_scores_perfectly(pair):
    scorer: PairScorer = _Perfect(pair)
    out = evaluate(pair, scorer, ("hungarian", "mutual_best", "sinkhorn"), negatives=4, seed=0)
    assert out["ranking"] == {"hits1": 1.0, "hits10": 1.0, "mrr": 1.0}
    assert set(out["assignment"].values()) == {1.0}
    assert out["protocol"] == {"prauc": 1.0, "best_f1": 1.0, "recall_at_p95": 1.0}


@pytest.mark.parametrize(("methods", "models"), [(("nope",), ()), (("model",), ())])
def test_unknown_method_or_model_without_path_is_refused(methods, models, tmp_path):
    with pytest.raises(EvaluationError):
        BenchmarkSettings(dataset=tmp_path, methods=methods, models=models)


def test_model_expands_to_one_row_per_artifact(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "no-cross").mkdir()
    settings = BenchmarkSettings(dataset=tmp_path, methods=("names", "model"),
                                 models=(tmp_path / "full", tmp_path / "no-cross"))
    assert method_labels(settings) == ["names", f"model:{tmp_path / 'full'}",
                                       f"model:{tmp_path / 'no-cross'}"]


def test_a_model_from_another_split_is_refused(pair, tmp_path):
    scorer = _Perfect(pair)
    scorer.bundle = SimpleNamespace(provenance={"dataset": "twins", "seed": 1,
                                                "hide_names": False})
    with pytest.raises(EvaluationError, match="seed"):
        _check_provenance(scorer, pair, BenchmarkSettings(dataset=tmp_path, seed=0))
    _check_provenance(scorer, pair, BenchmarkSettings(dataset=tmp_path, seed=1))
