"""The production docker compose stack: a valid file, healthy by construction, secured by default.

No Docker engine runs here. The compose file is validated offline by Debian's `docker-compose`
(1.29; `make test` as root installs it; without it those checks skip, or fail with `CI` set):
`docker-compose config` parses it, checks it against the
Compose schema it ships and interpolates `.env` exactly as `docker compose up` would, so the
file is also kept within what that older implementation accepts. Everything else is read from
the files: every service has a healthcheck and waits on conditions, images are pinned through
`${VAR:-version}`, nothing is published beyond 127.0.0.1, no password is written anywhere,
ClickHouse's users (the read-only one above all) are what docs/deploy.md says, Grafana's
provisioning is mounted where it is read, `.env.example` documents every variable, and the
commands compose gives veille's image parse with veille's own CLI, after the image's entrypoint
(run here, with a stand-in `veille`) has rewritten them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer
import yaml
from factories import REPO, require_tool

from pipeline.cli import app
from veille.settings import ClickHouseSettings

COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
USERS_XML = REPO / "deploy" / "clickhouse" / "users.d" / "veille.xml"
CONFIG_XML = REPO / "deploy" / "clickhouse" / "config.d" / "veille.xml"
ENTRYPOINT = REPO / "deploy" / "compose" / "veille-entrypoint.sh"
HEALTHCHECK = REPO / "deploy" / "compose" / "veille-healthcheck.py"
GRAFANA = REPO / "deploy" / "grafana"

# The secrets of the stack: required, never given a default.
SECRETS = ("CLICKHOUSE_WRITER_PASSWORD", "CLICKHOUSE_READER_PASSWORD", "GRAFANA_ADMIN_PASSWORD")
TEST_ENV = {name: f"test-{name.lower().replace('_', '-')}" for name in SECRETS}
VEILLE_SERVICES = {"db-migrate", "sink", "process", "ingest"}
OPTIONAL_SECRETS = ("X_BEARER_TOKEN", "VEILLE_ALERT_WEBHOOK_URL")  # .env may leave them empty
DATABASE = "veille"
WRITER, READER = "veille_writer", "veille_reader"
REQUIRED = re.compile(r"^\$\{([A-Z][A-Z0-9_]*):\?[^}]+\}$")


def _required(value: object) -> str | None:
    """The variable of a `${VAR:?message}` value (required: set and not empty), else None."""
    m = REQUIRED.match(str(value))
    return m.group(1) if m else None


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """docker-compose.yml as YAML (anchors and merge keys resolved, variables not)."""
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _docker_compose() -> str:
    return require_tool("docker-compose")


def _project(root: Path, env: dict[str, str]) -> Path:
    """A copy of the compose project with its own .env (the repository's .env is never read)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(COMPOSE, root / "docker-compose.yml")
    for name in ("deploy", "watch.yaml"):
        if not (root / name).exists():
            (root / name).symlink_to(REPO / name)
    (root / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return root


def _run_compose(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # a clean environment: only the project's .env supplies variables
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(project)}
    return subprocess.run(
        [
            _docker_compose(),
            "--project-directory",
            str(project),
            "-f",
            str(project / "docker-compose.yml"),
            *args,
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The configuration docker-compose resolves with a .env holding the three secrets."""
    project = _project(tmp_path_factory.mktemp("compose"), TEST_ENV)
    proc = _run_compose(project, "config")
    assert proc.returncode == 0, proc.stderr
    doc = yaml.safe_load(proc.stdout)
    assert isinstance(doc, dict)
    return doc


def _load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("veille_healthcheck", HEALTHCHECK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fake_veille(tmp_path: Path) -> Iterator[Path]:
    """A `veille` on PATH that prints its arguments, then `--`, then its KAFKA_/CLICKHOUSE_/X_/
    VEILLE_ environment, one per line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "veille"
    script.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do printf \'%s\\n\' "$a"; done\n'
        "echo --\n"
        "env | grep -E '^(KAFKA|CLICKHOUSE|X|VEILLE)_' | sort\n"
    )
    script.chmod(0o755)
    yield bin_dir


def _entrypoint(bin_dir: Path, args: list[str], env: dict[str, str]) -> tuple[list[str], dict]:
    """Run the image's entrypoint with the stand-in veille: (veille's args, veille's env)."""
    proc = subprocess.run(
        ["bash", str(ENTRYPOINT), *args],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    sep = out.index("--")
    return out[:sep], dict(line.split("=", 1) for line in out[sep + 1 :])


def _parse_cli(args: list[str]) -> tuple[str, dict[str, Any]]:
    """Parse `veille ARGS` with veille's CLI, as it would run, without running it: the command
    reached and its parameters. Raises the CLI's usage error on anything it would refuse."""
    cmd: Any = typer.main.get_command(app)
    ctx = cmd.make_context("veille", list(args))
    while hasattr(cmd, "commands"):  # a group: resolve the subcommand, then parse its options
        protected = getattr(ctx, "protected_args", None) or getattr(ctx, "_protected_args", None)
        rest = [*(protected or []), *ctx.args]
        name, cmd, rest = cmd.resolve_command(ctx, rest)
        ctx = cmd.make_context(name, rest, parent=ctx)
    return ctx.command_path, ctx.params


def _values(node: Any) -> str:
    """Every scalar of a parsed YAML document, one per line (comments are not values)."""
    if isinstance(node, dict):
        return "\n".join(_values(v) for v in node.values())
    if isinstance(node, list):
        return "\n".join(_values(v) for v in node)
    return str(node)


def _env_example() -> dict[str, str]:
    return {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    }


# -- the file is valid Compose ------------------------------------------------------------------


def test_docker_compose_validates_the_file(tmp_path: Path) -> None:
    proc = _run_compose(_project(tmp_path, TEST_ENV), "config", "-q")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr  # no warning either (an unset variable, ...)


@pytest.mark.parametrize("secret", SECRETS)
def test_an_empty_secret_stops_compose(tmp_path: Path, secret: str) -> None:
    proc = _run_compose(_project(tmp_path, {**TEST_ENV, secret: ""}), "config", "-q")
    assert proc.returncode != 0
    assert f"set {secret} in .env" in proc.stderr


def test_the_resolved_stack(resolved: dict[str, Any]) -> None:
    got = resolved["services"]
    assert set(got) == {"kafka", "clickhouse", "grafana", "prometheus", *VEILLE_SERVICES}
    assert got["clickhouse"]["image"] == "clickhouse/clickhouse-server:25.8"
    assert got["prometheus"]["image"] == "prom/prometheus:v3.5.0"
    assert "--storage.tsdb.retention.time=15d" in got["prometheus"]["command"]
    assert got["sink"]["environment"]["CLICKHOUSE_PASSWORD"] == TEST_ENV[SECRETS[0]]
    assert got["grafana"]["environment"]["CLICKHOUSE_READER_PASSWORD"] == TEST_ENV[SECRETS[1]]
    assert got["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == TEST_ENV[SECRETS[2]]
    for name in VEILLE_SERVICES:  # the compose-only secrets never reach veille's containers
        env = got[name]["environment"]
        assert all(env.get(s, "") == "" for s in SECRETS), name
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"


def test_the_x_token_and_the_webhook_reach_only_the_services_that_use_them(
    tmp_path: Path,
) -> None:
    env = {**TEST_ENV, "X_BEARER_TOKEN": "x-token", "VEILLE_ALERT_WEBHOOK_URL": "https://hook"}
    proc = _run_compose(_project(tmp_path, env), "config")
    assert proc.returncode == 0, proc.stderr
    got = {n: yaml.safe_load(proc.stdout)["services"][n]["environment"] for n in VEILLE_SERVICES}
    token = {n for n in VEILLE_SERVICES if got[n].get("X_BEARER_TOKEN")}
    hook = {n for n in VEILLE_SERVICES if got[n].get("VEILLE_ALERT_WEBHOOK_URL")}
    assert token == {"ingest", "sink"} and got["ingest"]["X_BEARER_TOKEN"] == "x-token"
    assert hook == {"sink"} and got["sink"]["VEILLE_ALERT_WEBHOOK_URL"] == "https://hook"


# -- health and order ---------------------------------------------------------------------------


def _one_shots(services: dict[str, dict[str, Any]]) -> set[str]:
    """Services another one waits for with `service_completed_successfully`."""
    return {
        dep
        for svc in services.values()
        for dep, cond in (svc.get("depends_on") or {}).items()
        if cond["condition"] == "service_completed_successfully"
    }


def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    one_shots = _one_shots(services)
    assert one_shots == {"db-migrate"}
    for name, svc in services.items():
        hc = svc.get("healthcheck")
        assert hc, f"{name} has no healthcheck"
        if hc.get("disable"):
            # only a one-shot, whose health is its exit status that others wait for
            assert name in one_shots and svc.get("restart") == "no", name
            continue
        assert hc["test"][0] in ("CMD", "CMD-SHELL"), name
        assert hc.get("interval") and hc.get("timeout") and hc.get("retries"), name
        assert svc.get("restart") == "unless-stopped", name


def test_dependencies_wait_on_conditions(services: dict[str, dict[str, Any]]) -> None:
    allowed = {"service_healthy", "service_completed_successfully"}
    for name, svc in services.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert cond["condition"] in allowed, f"{name} -> {dep}: {cond}"
    deps = {name: set(svc.get("depends_on") or {}) for name, svc in services.items()}
    assert deps["db-migrate"] == {"clickhouse"}
    assert deps["sink"] == {"kafka", "clickhouse", "db-migrate"}
    assert deps["process"] == deps["ingest"] == {"kafka"}
    assert deps["grafana"] == {"clickhouse", "db-migrate", "prometheus"}
    assert deps["prometheus"] == set()  # it scrapes whatever is up, and retries
    assert services["sink"]["depends_on"]["db-migrate"]["condition"] == (
        "service_completed_successfully"
    )


def test_stage_healthchecks_read_the_status_file_the_stage_writes(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("sink", "process", "ingest"):
        svc = services[name]
        command = svc["command"]
        status_file = command[command.index("--status-file") + 1]
        test = svc["healthcheck"]["test"]
        assert test[:3] == ["CMD", "veille-healthcheck", status_file], name
        # the processor and the sink rewrite their status continuously; a quiet X stream need not
        assert ("--max-age" in test) == (name != "ingest"), name
    assert "veille-healthcheck" in DOCKERFILE.read_text()


def _status(state: str, updated_at: float) -> str:
    return json.dumps({"stage": "sink", "state": state, "updated_at": updated_at})


def test_the_healthcheck_script(tmp_path: Path) -> None:
    hc = _load_healthcheck()
    path = tmp_path / "sink.json"
    now = time.time()
    assert hc.check(str(path), 60) == f"{path}: no status yet"
    path.write_text(_status("starting", now))
    assert "state=starting" in hc.check(str(path), 60)
    path.write_text(_status("running", now - 5))
    assert hc.check(str(path), 60) is None
    assert hc.check(str(path), None) is None
    path.write_text(_status("running", now - 300))
    assert "300 s ago" in hc.check(str(path), 60)
    assert hc.check(str(path), None) is None  # no freshness asked (the ingest stage)
    path.write_text("{not json")
    assert "unreadable" in hc.check(str(path), None)
    proc = subprocess.run(
        [sys.executable, str(HEALTHCHECK), str(path), "--max-age", "60"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1 and proc.stdout.startswith("unhealthy:")
    path.write_text(_status("running", time.time()))
    proc = subprocess.run(
        [sys.executable, str(HEALTHCHECK), str(path), "--max-age", "60"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout


# -- pinned, local, persistent ------------------------------------------------------------------


def test_images_and_plugin_are_pinned_through_variables(
    services: dict[str, dict[str, Any]],
) -> None:
    pinned = re.compile(r"^[a-z0-9./_-]+:\$\{([A-Z][A-Z0-9_]*):-(v?\d[\w.-]*)\}$")
    defaults = {}
    for name, svc in services.items():
        m = pinned.match(svc["image"])
        assert m, f"{name}: image {svc['image']!r} is not pinned as ${{VAR:-x.y}}"
        defaults[m.group(1)] = m.group(2)
    plugin = services["grafana"]["environment"]["GF_PLUGINS_PREINSTALL_SYNC"]
    m = re.match(r"^grafana-clickhouse-datasource@\$\{([A-Z_]+):-(\d+\.\d+\.\d+)\}$", plugin)
    assert m, plugin
    defaults[m.group(1)] = m.group(2)
    assert set(defaults) == {
        "KAFKA_VERSION",
        "CLICKHOUSE_VERSION",
        "GRAFANA_VERSION",
        "VEILLE_VERSION",
        "GRAFANA_CLICKHOUSE_PLUGIN_VERSION",
        "PROMETHEUS_VERSION",
    }
    example = _env_example()
    for var, default in defaults.items():  # .env.example shows the versions compose pins
        assert example[var] == default, var


def test_ports_are_published_on_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    published = {}
    for name, svc in services.items():
        assert "container_name" not in svc, f"{name}: a fixed name prevents scaling"
        for port in svc.get("ports") or []:
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), f"{name}: {port}"
            published[name] = port
    assert published == {
        "clickhouse": "127.0.0.1:8123:8123",
        "grafana": "127.0.0.1:3000:3000",
        "prometheus": "127.0.0.1:9090:9090",
    }
    # `docker compose up --scale process=N`: nothing fixed per container
    process = services["process"]
    assert not {"ports", "container_name", "hostname", "scale"} & set(process)
    assert "deploy" not in process


def test_every_service_and_port_is_commented() -> None:
    lines = COMPOSE.read_text().splitlines()
    start = lines.index("services:")
    for i, line in enumerate(lines[start + 1 :], start + 1):
        if re.match(r"^  [a-z][a-z-]*:$", line):  # a service
            assert lines[i - 1].strip().startswith("#"), f"service {line.strip()} uncommented"
        if re.match(r'^\s+- "127\.0\.0\.1:', line):  # a published port
            assert "#" in line or lines[i - 1].strip().startswith("#"), f"port {line.strip()}"


def test_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    mounts = {
        name: {v.split(":")[0]: v.split(":")[1] for v in svc.get("volumes") or []}
        for name, svc in services.items()
    }
    assert set(compose["volumes"]) == {
        "kafka-data",
        "clickhouse-data",
        "grafana-data",
        "ingest-data",
        "prometheus-data",
    }
    assert mounts["kafka"]["kafka-data"] == "/var/lib/kafka/data"
    assert services["kafka"]["environment"]["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"
    assert mounts["clickhouse"]["clickhouse-data"] == "/var/lib/clickhouse"
    assert mounts["grafana"]["grafana-data"] == "/var/lib/grafana"
    assert mounts["prometheus"]["prometheus-data"] == "/prometheus"
    assert "--storage.tsdb.path=/prometheus" in services["prometheus"]["command"]
    assert mounts["ingest"]["ingest-data"] == services["ingest"]["environment"]["VEILLE_DATA_DIR"]
    assert "ENV VEILLE_DATA_DIR=/home/veille/data" in DOCKERFILE.read_text()
    for name in ("ingest", "process"):  # the watch configuration users edit
        assert mounts[name]["./watch.yaml"] == "/app/watch.yaml"
    assert (REPO / "watch.yaml").is_file()


def test_kafka_runs_in_kraft_mode(services: dict[str, dict[str, Any]]) -> None:
    env = services["kafka"]["environment"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "ZOOKEEPER" not in " ".join(env)
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])  # a base64 UUID


# -- no password anywhere -----------------------------------------------------------------------


def test_no_password_is_written_in_the_compose_file(services: dict[str, dict[str, Any]]) -> None:
    secretish = re.compile(r"PASSWORD|SECRET|TOKEN")
    for name, svc in services.items():
        for key, value in (svc.get("environment") or {}).items():
            if not secretish.search(key):
                continue
            value = "" if value is None else str(value)
            if value == "":  # blanked: kept out of this container
                continue
            if value == f"${{{key}:-}}" and key in OPTIONAL_SECRETS:  # .env's, for this service
                continue
            assert _required(value) in SECRETS, f"{name}: {key}={value!r} is not ${{SECRET:?}}"
    text = COMPOSE.read_text()
    for secret in SECRETS:  # required everywhere it is used, never defaulted
        assert re.search(rf"\$\{{{secret}(:-|-)", text) is None, secret


def test_no_password_in_env_example_dockerfile_or_clickhouse_files() -> None:
    example = _env_example()
    for name, value in example.items():
        if re.search(r"PASSWORD|SECRET|TOKEN|WEBHOOK_URL", name):
            assert value == "", f".env.example gives {name} a value"
    assert not re.search(r"PASSWORD|SECRET", DOCKERFILE.read_text())
    for password in ET.parse(USERS_XML).getroot().iter("password"):
        assert set(password.attrib) == {"from_env"}, password.attrib
        assert not (password.text or "").strip()
    for tag in ("password_sha256_hex", "password_double_sha1_hex"):
        assert next(ET.parse(USERS_XML).getroot().iter(tag), None) is None


# -- ClickHouse users ---------------------------------------------------------------------------


def _users() -> tuple[ET.Element, ET.Element]:
    root = ET.parse(USERS_XML).getroot()
    users, profiles = root.find("users"), root.find("profiles")
    assert users is not None and profiles is not None
    return users, profiles


def _grants(user: ET.Element) -> list[str]:
    return [" ".join((q.text or "").split()) for q in user.iterfind("grants/query")]


def test_the_reader_is_read_only_and_selects_only_veille() -> None:
    users, profiles = _users()
    reader = users.find(READER)
    assert reader is not None
    profile = profiles.find(reader.findtext("profile", ""))
    assert profile is not None
    assert profile.findtext("readonly") in ("1", "2")
    # Grafana's plugin sets max_execution_time on every query: allowed, nothing else is
    changeable = [
        c.tag
        for c in profile.iterfind("constraints/*")
        if c.find("changeable_in_readonly") is not None
    ]
    assert changeable == ["max_execution_time"]
    assert _grants(reader) == [f"GRANT SELECT ON {DATABASE}.*"]
    assert reader.findtext("access_management", "0") == "0"
    assert reader.findtext("default_database") == DATABASE
    config = ET.parse(CONFIG_XML).getroot()
    assert (
        config.findtext("access_control_improvements/settings_constraints_replace_previous")
        == "true"
    )


def test_the_writer_has_rights_on_veille_only() -> None:
    users, _ = _users()
    writer = users.find(WRITER)
    assert writer is not None
    grants = _grants(writer)
    assert grants == [f"GRANT ALL ON {DATABASE}.*"]
    assert writer.findtext("access_management", "0") == "0"


def test_the_grants_are_valid_clickhouse_sql(
    clickhouse: ClickHouseSettings, chdb_dir: Path
) -> None:
    """ClickHouse runs each `<grants><query>` as `GRANT ... TO <user>`: they must parse (chDB has
    no access control to run them; EXPLAIN AST parses them)."""
    from sinks.clickhouse import connect

    users, _ = _users()
    client = connect(clickhouse, chdb_dir)
    try:
        for user in users:
            for grant in _grants(user):
                assert client.query(f"EXPLAIN AST {grant} TO {user.tag}").result_rows, grant
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{clickhouse.database}`")
        client.close()


def test_default_user_is_reachable_from_the_container_only() -> None:
    users, _ = _users()
    default = users.find("default")
    assert default is not None
    networks = default.find("networks")
    assert networks is not None and networks.get("replace") == "replace"
    assert {ip.text for ip in networks.iter("ip")} == {"::1", "127.0.0.1"}
    assert not [c for c in networks if c.tag != "ip"]  # no host or host_regexp


def test_compose_wires_the_clickhouse_users(services: dict[str, dict[str, Any]]) -> None:
    users, _ = _users()
    ch = services["clickhouse"]
    volumes = ch["volumes"]
    assert (
        "./deploy/clickhouse/users.d/veille.xml:/etc/clickhouse-server/users.d/veille.xml:ro"
        in volumes
    )
    assert (
        "./deploy/clickhouse/config.d/veille.xml:/etc/clickhouse-server/config.d/veille.xml:ro"
        in volumes
    )
    assert str(ch["environment"]["CLICKHOUSE_SKIP_USER_SETUP"]) == "1"
    assert not {"CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"} & set(ch["environment"])
    for user in (WRITER, READER):  # each password variable the XML reads is required by compose
        node = users.find(user)
        assert node is not None
        var = node.find("password").get("from_env")  # type: ignore[union-attr]
        assert _required(ch["environment"][var]) == var, var
    for name in ("db-migrate", "sink"):  # veille writes as the writer, on the granted database
        env = services[name]["environment"]
        assert env["CLICKHOUSE_USER"] == WRITER and env["CLICKHOUSE_DATABASE"] == DATABASE
        assert env["CLICKHOUSE_URL"] == "http://clickhouse:8123"
        assert _required(env["CLICKHOUSE_PASSWORD"]) == "CLICKHOUSE_WRITER_PASSWORD"
    grafana = services["grafana"]["environment"]
    assert grafana["CLICKHOUSE_READER_USER"] == READER
    assert grafana["CLICKHOUSE_DATABASE"] == DATABASE


# -- Grafana --------------------------------------------------------------------------------------


def test_grafana_provisioning_is_mounted_where_grafana_reads_it(
    services: dict[str, dict[str, Any]],
) -> None:
    grafana = services["grafana"]
    mounts = {}
    for volume in grafana["volumes"]:
        source, target, *mode = volume.split(":")
        if source.startswith("./"):
            assert (REPO / source).exists(), f"{source} does not exist"
            assert mode == ["ro"], volume
            mounts[source] = target
    assert mounts == {
        "./deploy/grafana/provisioning/datasources": "/etc/grafana/provisioning/datasources",
        "./deploy/grafana/provisioning/dashboards": "/etc/grafana/provisioning/dashboards",
        "./deploy/grafana/dashboards": "/var/lib/grafana/dashboards/veille",
    }
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/veille.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == mounts["./deploy/grafana/dashboards"]
    env = grafana["environment"]
    home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith("/var/lib/grafana/dashboards/veille/")
    assert (GRAFANA / "dashboards" / Path(home).name).is_file()
    # every variable the datasource file reads is set in Grafana's environment
    datasource = yaml.safe_load((GRAFANA / "provisioning/datasources/clickhouse.yaml").read_text())
    needed = set(re.findall(r"\$\{([A-Z_]+)\}", _values(datasource)))
    assert needed and needed <= set(env), needed - set(env)
    assert str(env["CLICKHOUSE_PORT"]) == "8123" and env["CLICKHOUSE_HOST"] == "clickhouse"


def test_grafana_is_closed_by_default(services: dict[str, dict[str, Any]]) -> None:
    env = services["grafana"]["environment"]
    assert str(env["GF_AUTH_ANONYMOUS_ENABLED"]).lower() == "false"
    assert str(env["GF_USERS_ALLOW_SIGN_UP"]).lower() == "false"
    assert _required(env["GF_SECURITY_ADMIN_PASSWORD"]) == "GRAFANA_ADMIN_PASSWORD"
    assert _required(env["CLICKHOUSE_READER_PASSWORD"]) == "CLICKHOUSE_READER_PASSWORD"


# -- .env.example ---------------------------------------------------------------------------------


def test_every_compose_variable_is_in_env_example() -> None:
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE.read_text()))
    missing = used - set(_env_example())
    assert not missing, f"used by docker-compose.yml, not in .env.example: {sorted(missing)}"


# -- the image and the commands compose runs ------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_dockerfile() -> None:
    import tomllib

    steps = _dockerfile()
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [args for word, args in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
    for word, args in steps:
        if word == "RUN" and "pip install" in args:
            assert " -e " not in args and "--editable" not in args, args
            assert "[" not in args, f"no extras in the image: {args}"
        if word == "COPY":
            *sources, _ = args.split()
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"
    entrypoint = json.loads(next(args for word, args in steps if word == "ENTRYPOINT"))
    cmd = json.loads(next(args for word, args in steps if word == "CMD"))
    assert entrypoint == ["veille-entrypoint"]
    assert "COPY deploy/compose/veille-entrypoint.sh /usr/local/bin/veille-entrypoint" in (
        DOCKERFILE.read_text()
    )
    # the entrypoint runs the `veille` console script the package installs
    assert 'exec veille "${args[@]}"' in ENTRYPOINT.read_text()
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["veille"] == "pipeline.cli:main"
    # every package of the project is in the image, the composition root included
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    copied = {args.split()[0] for word, args in steps if word == "COPY"}
    for pattern in packages["packages"]["find"]["include"]:
        assert pattern.rstrip("*") in copied, f"package {pattern} is not copied into the image"
    with pytest.raises(Exception) as exc:  # CMD ["--help"]: the help, exit status 0
        _parse_cli(cmd)
    assert getattr(exc.value, "exit_code", None) == 0


def test_veille_lists_the_commands_compose_runs(services: dict[str, dict[str, Any]]) -> None:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for name in VEILLE_SERVICES:
        assert services[name]["command"][0] in commands, name
    assert "migrate" in commands["db"].commands
    assert "compliance" in commands  # what the sink runs daily with an X token


@pytest.mark.parametrize("token", ["", "a-token"], ids=["no X token", "X token"])
def test_service_commands_parse_with_the_cli(
    resolved: dict[str, Any], fake_veille: Path, token: str, tmp_path: Path
) -> None:
    for name in sorted(VEILLE_SERVICES):
        command = resolved["services"][name]["command"]
        args, _ = _entrypoint(fake_veille, command, {"X_BEARER_TOKEN": token})
        path, params = _parse_cli(args)
        if name == "ingest":
            assert path == "veille ingest"
            assert params["source"].value == ("x" if token else "synthetic")
            assert params["rate"] == 20.0
        elif name == "db-migrate":
            assert path == "veille db migrate"
        else:
            assert path == f"veille {name}"
        if name != "db-migrate":
            assert str(params["status_file"]) == f"/tmp/{name}.json"


def test_the_entrypoint_unsets_empty_settings(fake_veille: Path, tmp_path: Path) -> None:
    status = tmp_path / "sink.json"
    status.write_text('{"state": "running"}')  # left by an earlier run of the container
    args, env = _entrypoint(
        fake_veille,
        ["sink", "--status-file", str(status)],
        {
            "KAFKA_SASL_MECHANISM": "",  # as .env.example has it: would fail validation
            "X_BEARER_TOKEN": "",  # would read as a token
            "VEILLE_WATCH_FILE": "",
            "CLICKHOUSE_URL": "http://clickhouse:8123",
            "VEILLE_LOG_LEVEL": "INFO",
        },
    )
    assert args == ["sink", "--status-file", str(status)]
    assert not status.exists()
    assert env == {"CLICKHOUSE_URL": "http://clickhouse:8123", "VEILLE_LOG_LEVEL": "INFO"}


def test_the_entrypoint_picks_the_source(fake_veille: Path) -> None:
    cases = [
        (["ingest", "--source", "auto"], {}, ["ingest", "--source", "synthetic"]),
        (["ingest", "--source", "auto"], {"X_BEARER_TOKEN": "t"}, ["ingest", "--source", "x"]),
        (["ingest", "--source=auto"], {"X_BEARER_TOKEN": "t"}, ["ingest", "--source=x"]),
        (
            ["ingest", "--source", "replay", "-i", "f"],
            {"X_BEARER_TOKEN": "t"},
            ["ingest", "--source", "replay", "-i", "f"],
        ),
    ]
    for given, env, expected in cases:
        assert _entrypoint(fake_veille, given, env)[0] == expected, given
