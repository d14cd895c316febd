"""stacks/survival_api.yaml, the Dockerfile and the pins agree with each other."""

from __future__ import annotations

import re
from pathlib import Path

from localcloud import cfn_yaml
from localcloud.images import task_root_sources

ROOT = Path(__file__).resolve().parents[3]
STACK_PATH = ROOT / "stacks" / "survival_api.yaml"
STACK = cfn_yaml.load(STACK_PATH)
FUNCTION = STACK["Resources"]["SurvivalFunction"]
FUNCTION_DIR = ROOT / "functions" / "survival_api" / "survival"
DOCKERFILE = (FUNCTION_DIR / "Dockerfile").read_text()


def _pin(text: str, package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)", text, re.MULTILINE | re.IGNORECASE)
    assert match, f"{package} is not pinned"
    return match.group(1)


def test_the_function_is_an_image_built_from_the_repository_root():
    props, meta = FUNCTION["Properties"], FUNCTION["Metadata"]
    assert props["PackageType"] == "Image"
    assert "Runtime" not in props and "Handler" not in props and "Layers" not in props
    context = (STACK_PATH.parent / meta["DockerContext"]).resolve()
    assert context == ROOT
    assert (context / meta["Dockerfile"]).resolve() == FUNCTION_DIR / "Dockerfile"
    module, _, func = props["ImageConfig"]["Command"][0].rpartition(".")
    assert (FUNCTION_DIR / f"{module}.py").is_file() and func == "handler"
    assert 'CMD ["app.handler"]' in DOCKERFILE


def test_the_image_task_root_holds_the_function_and_common():
    assert task_root_sources(ROOT, FUNCTION_DIR / "Dockerfile") == [
        FUNCTION_DIR, ROOT / "layers" / "common"]


def test_template_r_paths_are_where_the_dockerfile_installs_r():
    version = re.search(r"^ARG R_VERSION=(\S+)$", DOCKERFILE, re.MULTILINE).group(1)
    env = FUNCTION["Properties"]["Environment"]["Variables"]
    assert env["R_HOME"] == f"/opt/R/{version}/lib/R"
    assert env["LD_LIBRARY_PATH"].split(":")[0] == f"{env['R_HOME']}/lib"
    # Lambda's own default search path is kept after R's.
    assert env["LD_LIBRARY_PATH"].endswith(
        "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib"
        ":/opt/lib")
    # Same major.minor as Debian bookworm's R, which the tests compare against.
    assert version.startswith("4.2.")


def test_rpy2_is_pinned_the_same_for_the_image_and_locally():
    image = (FUNCTION_DIR / "requirements.txt").read_text()
    local = (ROOT / "deps" / "python-survival_api.txt").read_text()
    assert _pin(image, "rpy2") == _pin(local, "rpy2") == "3.5.17"
    apt = (ROOT / "deps" / "apt.txt").read_text().split()
    assert {"r-base-core", "r-cran-survival"} <= set(apt)


def test_the_stack_is_nested_in_the_root_template():
    root = cfn_yaml.load(ROOT / "template.yaml")
    (app,) = [r for r in root["Resources"].values()
              if r["Type"] == "AWS::Serverless::Application"
              and r["Properties"]["Location"] == "stacks/survival_api.yaml"]
    assert set(app["Properties"]["Parameters"]) <= set(STACK["Parameters"])
    assert STACK["Outputs"]["ApiUrl"]
