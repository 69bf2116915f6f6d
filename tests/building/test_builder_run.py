"""``HostApplicationBuilder.run()``: an application's main() in one call, with one error path
(a real process, as users run it)."""

from __future__ import annotations

from tests._subprocess import App

APP = """
import sys
from datetime import datetime
import threadhost as th

class Report(th.CronBackgroundService):
    def __init__(self, config: th.Configuration) -> None:
        self.schedule = config.get("Report:Schedule", "@daily")

    def run_once(self, stopping_token: th.CancellationToken, fire_time: datetime) -> None:
        pass

builder = th.Host.create_application_builder(sys.argv[1:])
builder.services.add_hosted_service(Report)
raise SystemExit(builder.run())
"""


def test_a_bad_value_at_build_is_one_line_on_stderr_and_exit_code_2() -> None:
    with App("-c", APP, "--HostOptions:ShutdownTimeout=soon",
             env={"DOTNET_ENVIRONMENT": "Production"}) as app:
        assert app.wait() == 2, app.output()
    assert len(app.stderr) == 1, app.output()
    assert "HostOptions:ShutdownTimeout" in app.stderr[0] and "'soon'" in app.stderr[0]
    assert "Traceback" not in app.output()


def test_a_bad_setting_found_at_start_is_one_error_line_and_exit_code_2() -> None:
    with App("-c", APP, "--Report:Schedule=0 25 * * *") as app:
        assert app.wait() == 2, app.output()
    errors = [line for line in app.stderr if "ERROR" in line]
    assert errors == [line for line in errors if "Service 'Report' failed in start: Report: "
                      "schedule '0 25 * * *' cannot be read: Bad hour" in line], app.output()
    assert len(errors) == 1, app.output()
    assert "Traceback" not in app.output()


BROKEN = """
import sys
import threadhost as th

class Db:
    def __init__(self, config: th.Configuration) -> None:
        raise ConnectionError("database 'orders' is unreachable")

class Repo:
    def __init__(self, db: Db) -> None:
        self.db = db

class Worker(th.BackgroundService):
    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def execute(self, stopping_token: th.CancellationToken) -> None:
        stopping_token.wait()

builder = th.Host.create_application_builder(sys.argv[1:])
builder.services.add_singleton(Db)
builder.services.add_singleton(Repo)
builder.services.add_hosted_service(Worker)
raise SystemExit(builder.run())
"""


def test_a_constructor_that_raises_names_the_service_and_the_chain_not_the_injector() -> None:
    with App("-c", BROKEN, merge_stderr=True) as app:
        assert app.wait() == 1, app.output()
    output = "\n".join(app.stdout)
    assert ("Service 'Worker' could not be constructed (while constructing Worker -> Repo -> "
            "Db): ConnectionError: database 'orders' is unreachable") in output
    assert "injector" not in output and "During handling" not in output, output
    assert "Traceback" not in output  # at DEBUG only: tests/building/test_error_path.py
    with App("-c", BROKEN, "--Logging:LogLevel:Default=Debug", merge_stderr=True) as app:
        assert app.wait() == 1, app.output()
    output = "\n".join(app.stdout)
    assert 'File "<string>", line 7, in __init__' in output  # the application's own frame
    assert "injector" not in output and "During handling" not in output, output


def test_a_missing_dependency_found_by_build_in_development_is_one_line_and_exit_code_1(
        ) -> None:
    code = BROKEN.replace("builder.services.add_singleton(Db)\n", "").replace(
        "class Db:", "class Db(abc.ABC):\n    @abc.abstractmethod\n    def query(self) -> None: ..."
    ).replace("import sys", "import abc, sys")
    with App("-c", code, "--environment=Development") as app:
        assert app.wait() == 1, app.output()
    assert len(app.stderr) == 1, app.output()
    assert "Hosted service 'Worker' cannot be constructed" in app.stderr[0]
