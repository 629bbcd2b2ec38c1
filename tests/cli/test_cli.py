import pytest
from typer.testing import CliRunner

from scanflow.cli import app
from scanflow.supervisor import plan_children

pytestmark = pytest.mark.unit
runner = CliRunner()

COMMANDS = ["up", "worker", "sink", "api", "demo", "replay", "sql", "schemas", "topics", "topics create",
            "topics list", "bench", "bench detectors", "bench pipeline", "bench lake", "bench connectors",
            "broker", "broker start",
            "broker stop", "broker status"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_topics_list_shows_the_contract():
    result = runner.invoke(app, ["topics", "list"])
    assert result.exit_code == 0
    assert "md.candles.1m" in result.output and "signals.volume_surge" in result.output
    assert "control.subscriptions" in result.output and "cleanup=compact" in result.output


def test_replay_of_a_missing_file_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["replay", str(tmp_path / "nope.csv")])
    assert result.exit_code != 0
    assert "no such file" in result.output


def test_up_plans_the_source_and_refuses_nonsense(tmp_path):
    names = [c.name for c in plan_children("demo")]
    assert names == ["source-demo", "worker", "sink", "api"]
    f = tmp_path / "x.csv"
    f.write_text("t,o,h,l,c,v\n")
    replay = plan_children(f"replay:{f}")
    assert replay[0].restart is False and replay[0].argv[0] == "replay"
    assert [c.name for c in plan_children("none")] == ["worker", "sink", "api"]
    with pytest.raises(ValueError, match="--source"):
        plan_children("kraken")
    with pytest.raises(FileNotFoundError):
        plan_children(f"replay:{tmp_path / 'missing.csv'}")
