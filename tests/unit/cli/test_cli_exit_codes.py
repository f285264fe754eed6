"""Each expected failure: one line on stderr and its own exit code (stream_align/cli/exit_codes),
checked on a real process the way an operator or a script sees it."""

import socket
from pathlib import Path

from stream_align.cli.exit_codes import ExitCode
from tests.unit.cli.cli_subprocess import assert_one_line_error, run_cli


def test_a_bad_setting_in_the_environment_names_the_variable() -> None:
    result = run_cli("config", "--show", env={"STREAM_ALIGN_KAFKA__PARTITIONS": "0"})
    assert_one_line_error(result, ExitCode.CONFIG, "kafka.partitions",
                          "STREAM_ALIGN_KAFKA__PARTITIONS", "greater than or equal to 1")


def test_a_bad_value_and_a_broken_file(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[observability]\nlog_format = "xml"\n')
    assert_one_line_error(run_cli("config", "--show", "--config", str(wrong)), ExitCode.CONFIG,
                          "observability.log_format = 'xml'")
    broken = tmp_path / "broken.toml"
    broken.write_text("[kafka\n")
    assert_one_line_error(run_cli("topics", "--config", str(broken)), ExitCode.CONFIG,
                          "not valid TOML")
    assert_one_line_error(run_cli("topics", "--config", str(tmp_path / "none.toml")),
                          ExitCode.CONFIG, "config file not found")


def test_a_missing_model(tmp_path: Path) -> None:
    result = run_cli("align", "--model", str(tmp_path / "nomodel"), "--dataset", str(tmp_path),
                     "--out", str(tmp_path / "out.jsonl"))
    assert_one_line_error(result, ExitCode.MODEL, "nomodel", "not a model artifact")


def test_a_missing_dataset(tmp_path: Path) -> None:
    result = run_cli("train", "--dataset", str(tmp_path / "nodata"), "--out", str(tmp_path))
    assert_one_line_error(result, ExitCode.DATASET, "nodata", "not a dataset directory")


def test_the_probe_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("run", "--model", str(tmp_path / "nomodel"), "--state",
                         str(tmp_path / "state"),
                         env={"STREAM_ALIGN_OBSERVABILITY__HTTP_HOST": "127.0.0.1",
                              "STREAM_ALIGN_OBSERVABILITY__HTTP_PORT": str(port)})
    assert_one_line_error(result, ExitCode.PORT, f"127.0.0.1:{port}", "in use")


def test_usage_errors_keep_argparse_code() -> None:
    result = run_cli("align")
    assert result.returncode == ExitCode.USAGE and "the following arguments are required" in (
        result.stderr)
