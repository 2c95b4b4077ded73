"""deploy/: the Dockerfile, compose file, settings example and Kubernetes manifests hold together.

No container engine or cluster runs here, so these read the files as the tools would: every YAML
parses, the essentials (non-root, probes, Redis persistence) are present, and every settings file
shipped validates against the gateway's own settings models.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import socket
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
YAML_FILES = sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yml", ".yaml"))
SECRET_REF = re.compile(r"\{file: /run/secrets/([A-Za-z0-9_.-]+)\}")


def secret_refs(text: str) -> set[str]:
    """The NAMEs of every `{file: /run/secrets/NAME}` outside YAML comments."""
    lines = (re.sub(r"(^|\s)#.*$", "", line) for line in text.splitlines())
    return set(SECRET_REF.findall("\n".join(lines)))


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def k8s(kind: str, name: str) -> dict[str, Any]:
    for path in K8S.glob("*.yaml"):
        for doc in load_all(path):
            if doc.get("kind") == kind and doc["metadata"]["name"] == name:
                return dict(doc)
    raise AssertionError(f"no {kind} {name} in {K8S}")


def validate_settings(text: str, tmp_path: Path) -> None:
    """Validate settings text with every /run/secrets/NAME it reads made a real file."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in secret_refs(text):
        value = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA" if "hash" in name else f"x-{name}"
        (secrets / name).write_text(value + "\n")
    settings_file = tmp_path / "smsguard.yaml"
    settings_file.write_text(text.replace("/run/secrets/", f"{secrets}/"))
    load_settings(settings_file, environ={})


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    """Every YAML file under deploy/ parses and holds at least one document."""
    assert load_all(path)


# --- Dockerfile ---------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def runtime_stage() -> list[tuple[str, str]]:
    steps = dockerfile_instructions()
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def test_dockerfile_runs_as_a_non_root_user() -> None:
    """The runtime stage ends as a numeric, non-zero user."""
    users = [arg for op, arg in runtime_stage() if op == "USER"]
    assert users
    uid = users[-1].split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0


def test_dockerfile_bases_on_python_311_slim() -> None:
    """Both stages start from python:3.11-slim."""
    bases = [arg.split()[0] for op, arg in dockerfile_instructions() if op == "FROM"]
    assert bases
    assert all(b == "python:3.11-slim" for b in bases)


def test_dockerfile_copies_files_that_exist() -> None:
    """Every COPY source (outside other stages) exists in the repository."""
    sources = []
    for op, arg in dockerfile_instructions():
        if op != "COPY":
            continue
        words = [w for w in shlex.split(arg) if not w.startswith("--")]
        if "--from=" in arg:
            continue
        sources.extend(words[:-1])
    assert sources
    missing = [s for s in sources if not (ROOT / s).exists()]
    assert missing == []


def test_dockerfile_serves_with_the_console_script() -> None:
    """The command is `smsguard serve --config /etc/smsguard/smsguard.yaml`, a real script."""
    steps = dict(runtime_stage())
    command = json.loads(steps["ENTRYPOINT"]) + json.loads(steps["CMD"])
    assert command == ["smsguard", "serve", "--config", "/etc/smsguard/smsguard.yaml"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "smsguard" in scripts


def test_dockerfile_healthcheck_probes_healthz_with_python() -> None:
    """HEALTHCHECK runs valid Python that GETs /healthz on the exposed port."""
    steps = dict(runtime_stage())
    assert steps["EXPOSE"] == "8080"
    exec_form = json.loads(steps["HEALTHCHECK"].split("CMD", 1)[1])
    assert exec_form[:2] == ["python", "-c"]
    compile(exec_form[2], "<healthcheck>", "exec")
    assert "http://127.0.0.1:8080/healthz" in exec_form[2]


def healthcheck_code() -> str:
    exec_form = json.loads(dict(runtime_stage())["HEALTHCHECK"].split("CMD", 1)[1])
    return str(exec_form[2])


async def test_dockerfile_healthcheck_passes_on_a_serving_gateway(aiohttp_server: Any) -> None:
    """The HEALTHCHECK command exits 0 against the gateway's real /healthz handler."""
    from aiohttp import web

    from gateway.health import healthz

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    server = await aiohttp_server(app)
    code = healthcheck_code().replace("127.0.0.1:8080", f"127.0.0.1:{server.port}")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code)
    assert await proc.wait() == 0


def test_dockerfile_healthcheck_fails_when_nothing_listens() -> None:
    """The HEALTHCHECK command exits non-zero when no gateway answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = healthcheck_code().replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    assert done.returncode != 0


def test_dockerfile_bakes_no_secret() -> None:
    """No ENV or ARG in the Dockerfile sets a secret-looking key."""
    for op, arg in dockerfile_instructions():
        if op in ("ENV", "ARG"):
            assert not re.search(r"(SECRET|TOKEN|PASSWORD|_KEY)\w*=", arg.upper()), arg


# --- docker compose -----------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    doc = load_all(DEPLOY / "docker-compose.yml")[0]
    assert isinstance(doc, dict)
    return doc


def test_compose_redis_persists_and_never_evicts() -> None:
    """Redis 7 runs with appendonly yes and maxmemory-policy noeviction on a named volume."""
    redis = compose()["services"]["redis"]
    assert redis["image"].startswith("redis:7")
    args = " ".join(str(a) for a in redis["command"])
    assert "--appendonly yes" in args
    assert "--maxmemory-policy noeviction" in args
    assert any(v.split(":")[1] == "/data" for v in redis["volumes"])
    assert redis["volumes"][0].split(":")[0] in compose()["volumes"]


def test_compose_gateway_is_non_root_read_only_with_settings_mounted() -> None:
    """The gateway runs as uid 10001 on a read-only fs with the settings file mounted read-only."""
    gateway = compose()["services"]["gateway"]
    assert gateway["user"].split(":")[0] == "10001"
    assert gateway["read_only"] is True
    assert "./smsguard.yaml:/etc/smsguard/smsguard.yaml:ro" in gateway["volumes"]
    assert gateway["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY / gateway["build"]["context"] / gateway["build"]["dockerfile"]).exists()


def test_compose_mounts_every_secret_the_example_settings_read() -> None:
    """Each /run/secrets/NAME in the settings example is a compose secret given to the gateway."""
    needed = secret_refs((DEPLOY / "smsguard.example.yaml").read_text())
    doc = compose()
    assert needed
    assert needed <= set(doc["services"]["gateway"]["secrets"])
    assert set(doc["services"]["gateway"]["secrets"]) <= set(doc["secrets"])


# --- settings -----------------------------------------------------------------------------------


def test_settings_example_validates(tmp_path: Path) -> None:
    """deploy/smsguard.example.yaml is valid for the gateway's settings as they are now."""
    validate_settings((DEPLOY / "smsguard.example.yaml").read_text(), tmp_path)


def test_settings_example_covers_every_section() -> None:
    """The example has every top-level section the settings model knows."""
    from gateway.settings import Settings

    example = yaml.safe_load((DEPLOY / "smsguard.example.yaml").read_text())
    sections = {name for name in Settings.model_fields if name != "source"}
    missing = sections - set(example)
    assert not missing, f"document {sorted(missing)} in deploy/smsguard.example.yaml"


def test_k8s_settings_configmap_validates(tmp_path: Path) -> None:
    """The settings in the smsguard-config ConfigMap are valid."""
    text = k8s("ConfigMap", "smsguard-config")["data"]["smsguard.yaml"]
    validate_settings(text, tmp_path)


def test_k8s_secret_example_has_every_key_the_settings_read() -> None:
    """Each /run/secrets/NAME in the ConfigMap's settings is a key of the example Secret."""
    text = k8s("ConfigMap", "smsguard-config")["data"]["smsguard.yaml"]
    secret = load_all(K8S / "secret.example.yaml")[0]
    assert secret_refs(text) <= set(secret["stringData"])


# --- Kubernetes ---------------------------------------------------------------------------------


def pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = k8s("Deployment", "smsguard")["spec"]["template"]["spec"]
    return spec


def gateway_container() -> dict[str, Any]:
    (container,) = [c for c in pod_spec()["containers"] if c["name"] == "smsguard"]
    return dict(container)


def test_k8s_deployment_runs_several_replicas() -> None:
    """The gateway Deployment runs at least 2 replicas and never goes below them in a rollout."""
    spec = k8s("Deployment", "smsguard")["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_k8s_pod_is_non_root_with_read_only_root_fs() -> None:
    """Pod and container forbid root, privilege escalation and writes to the root fs."""
    pod = pod_spec()["securityContext"]
    container = gateway_container()["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] != 0
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]


def test_k8s_probes_use_readyz_and_healthz() -> None:
    """Readiness asks /readyz (Redis, rules, providers); liveness asks /healthz only."""
    container = gateway_container()
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_k8s_container_has_resources() -> None:
    """The gateway declares CPU/memory requests and a memory limit."""
    resources = gateway_container()["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]


def test_k8s_volumes_reference_the_shipped_objects() -> None:
    """Settings, rules and secrets come from smsguard-config, smsguard-rules, smsguard-secrets."""
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}
    assert volumes["settings"]["configMap"]["name"] == "smsguard-config"
    assert volumes["rules-src"]["configMap"]["name"] == "smsguard-rules"
    assert "emptyDir" in volumes["rules"]
    assert volumes["secrets"]["secret"]["secretName"] == "smsguard-secrets"
    mounts = {m["mountPath"]: m["name"] for m in gateway_container()["volumeMounts"]}
    assert mounts["/etc/smsguard/smsguard.yaml"] == "settings"
    assert mounts["/etc/smsguard/rules"] == "rules"
    assert mounts["/run/secrets"] == "secrets"
    assert mounts["/tmp"] == "tmp"  # noqa: S108 (a path in the manifest, not a temp file)


def test_k8s_service_and_pdb_select_the_gateway_pods() -> None:
    """The Service and the PodDisruptionBudget select the Deployment's pod labels."""
    labels = k8s("Deployment", "smsguard")["spec"]["template"]["metadata"]["labels"]
    service = k8s("Service", "smsguard")["spec"]
    pdb = k8s("PodDisruptionBudget", "smsguard")["spec"]
    assert service["selector"].items() <= labels.items()
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    ports = {p["name"] for p in gateway_container()["ports"]}
    assert all(p["targetPort"] in ports for p in service["ports"])


def test_k8s_redis_persists_and_never_evicts() -> None:
    """The Redis StatefulSet runs appendonly yes + noeviction on a persistent volume claim."""
    redis = k8s("StatefulSet", "redis")["spec"]
    (container,) = redis["template"]["spec"]["containers"]
    args = " ".join(container["args"])
    assert "--appendonly yes" in args
    assert "--maxmemory-policy noeviction" in args
    assert redis["volumeClaimTemplates"][0]["metadata"]["name"] == "data"


def test_kustomization_lists_existing_files() -> None:
    """Every resource and the optional component named by kustomization.yaml exist."""
    kustomization = load_all(K8S / "kustomization.yaml")[0]
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file(), resource
    assert (K8S / "geoip" / "kustomization.yaml").is_file()
    patch = load_all(K8S / "geoip" / "deployment-patch.yaml")[0]
    env = {e["name"]: e["value"] for e in patch["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SMSGUARD_GEOIP__COUNTRY_DB"].startswith("/var/lib/geoip/")


# --- the rules ConfigMap generator and its unpacking init container ----------------------------


def run_generator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(K8S / "rules-configmap.py"), *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def mount_configmap(configmap: dict[str, Any], where: Path) -> Path:
    """Lay out a ConfigMap as the kubelet mounts it: ..data/<key> files and <key> symlinks."""
    data = where / "..2026_11_22_00_00_00.000000000"
    data.mkdir(parents=True)
    (where / "..data").symlink_to(data.name)
    for key, value in configmap.get("data", {}).items():
        (data / key).write_text(value)
        (where / key).symlink_to(Path("..data") / key)
    return where


def unpack(source: Path, target: Path) -> None:
    """Run the Deployment's `rules` init container command on a mounted ConfigMap."""
    (init,) = [c for c in pod_spec()["initContainers"] if c["name"] == "rules"]
    env = {e["name"]: e["value"] for e in init["env"]}
    assert init["volumeMounts"][0]["mountPath"] == env["SRC"]
    done = subprocess.run(
        [sys.executable, *init["command"][1:]],
        env={"SRC": str(source), "DST": str(target)}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_rules_configmap_holds_each_file(tmp_path: Path) -> None:
    """The generator prints a ConfigMap with one key per file, "__" standing for "/"."""
    (tmp_path / "10-pumping.yaml").write_text("rules: []\n")
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "premium.txt").write_text("+88213\n")
    done = run_generator(str(tmp_path))
    assert done.returncode == 0, done.stderr
    configmap = yaml.safe_load(done.stdout)
    assert configmap["kind"] == "ConfigMap"
    assert configmap["metadata"] == {
        "name": "smsguard-rules",
        "namespace": "smsguard",
        "labels": {"app.kubernetes.io/name": "smsguard"},
    }
    assert configmap["data"] == {"10-pumping.yaml": "rules: []\n", "lists__premium.txt": "+88213\n"}


def test_rules_configmap_refuses_names_it_cannot_encode(tmp_path: Path) -> None:
    """A file name holding "__" (the separator) is an error naming it."""
    (tmp_path / "a__b.yaml").write_text("rules: []\n")
    done = run_generator(str(tmp_path))
    assert done.returncode == 2
    assert "a__b.yaml" in done.stderr


def test_shipped_rules_survive_configmap_and_init_container(tmp_path: Path) -> None:
    """rules/ through the ConfigMap and the init container is the same tree, and it loads."""
    from gateway.policy.loader import load_rules

    done = run_generator(str(ROOT / "rules"))
    assert done.returncode == 0, done.stderr
    source = mount_configmap(json.loads(done.stdout), tmp_path / "rules-src")
    target = tmp_path / "rules"
    target.mkdir()
    unpack(source, target)

    def tree(root: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in root.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
        }

    assert tree(target) == tree(ROOT / "rules")
    assert load_rules(target).rules


def test_k8s_only_the_gateway_reaches_redis() -> None:
    """The NetworkPolicy admits only gateway pods to the Redis pods' port."""
    policy = k8s("NetworkPolicy", "redis-from-gateway-only")["spec"]
    redis_labels = k8s("StatefulSet", "redis")["spec"]["template"]["metadata"]["labels"]
    gateway_labels = k8s("Deployment", "smsguard")["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= redis_labels.items()
    (rule,) = policy["ingress"]
    (source,) = rule["from"]
    assert source["podSelector"]["matchLabels"].items() <= gateway_labels.items()
    assert not source["podSelector"]["matchLabels"].items() <= redis_labels.items()
