from bos.cli import main


def test_cli_renders_a_dossier_to_a_file_and_verifies_it(runner, completed, tmp_path):
    output = tmp_path / "dossier.pdf"
    result = runner.invoke(main, ["reports", "dossier", completed.ocid, "--lang", "en", "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert output.read_bytes().startswith(b"%PDF-")
    assert "sha256" in result.output

    verified = runner.invoke(main, ["reports", "verify", str(output)])
    assert verified.exit_code == 0, verified.output
    assert "MATCH" in verified.output

    (tmp_path / "other.pdf").write_bytes(output.read_bytes() + b"\n")
    assert runner.invoke(main, ["reports", "verify", str(tmp_path / "other.pdf")]).exit_code == 1


def test_cli_watchdog_report(runner, seeded, tmp_path):
    output = tmp_path / "watchdog.pdf"
    result = runner.invoke(
        main,
        [
            "reports",
            "watchdog",
            "--since",
            "2026-11-01",
            "--until",
            "2026-11-24",
            "--category",
            "works",
            "-o",
            str(output),
        ],
    )
    assert result.exit_code == 0, result.output
    assert output.stat().st_size > 1000
