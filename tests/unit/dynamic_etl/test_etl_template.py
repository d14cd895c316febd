"""stacks/dynamic_etl.yaml and the Dockerfile agree: every function is an image of this folder."""

from __future__ import annotations

import re
from pathlib import Path

from localcloud import cfn_yaml
from localcloud.images import task_root_sources

ROOT = Path(__file__).resolve().parents[3]
STACK_PATH = ROOT / "stacks" / "dynamic_etl.yaml"
STACK = cfn_yaml.load(STACK_PATH)
FUNCTION_DIR = ROOT / "functions" / "dynamic_etl" / "etl"
DOCKERFILE = (FUNCTION_DIR / "Dockerfile").read_text()
FUNCTIONS = {lid: res for lid, res in STACK["Resources"].items()
             if res["Type"] == "AWS::Serverless::Function"}


def test_every_function_is_an_image_built_from_the_repository_root():
    assert set(FUNCTIONS) == {"StartFunction", "ExecuteFunction", "SummarizeFunction"}
    globals_ = STACK["Globals"]["Function"]
    assert not {"Runtime", "CodeUri", "Layers", "Handler"} & set(globals_)
    app = (FUNCTION_DIR / "app.py").read_text()
    for res in FUNCTIONS.values():
        props, meta = res["Properties"], res["Metadata"]
        assert props["PackageType"] == "Image"
        assert not {"Runtime", "Handler", "Layers", "CodeUri"} & set(props)
        context = (STACK_PATH.parent / meta["DockerContext"]).resolve()
        assert context == ROOT
        assert (context / meta["Dockerfile"]).resolve() == FUNCTION_DIR / "Dockerfile"
        (command,) = props["ImageConfig"]["Command"]
        module, _, func = command.rpartition(".")
        assert module == "app" and f"\ndef {func}(" in app
    assert "CommonLayerArn" not in STACK["Parameters"]


def test_the_image_task_root_holds_the_function_and_common():
    assert DOCKERFILE.startswith("#") and "FROM public.ecr.aws/lambda/python:3.11\n" in DOCKERFILE
    assert task_root_sources(ROOT, FUNCTION_DIR / "Dockerfile") == [
        FUNCTION_DIR, ROOT / "layers" / "common"]
    assert "-r /tmp/function-requirements.txt" in DOCKERFILE


def test_the_image_installs_the_venv_pins():
    image = (FUNCTION_DIR / "requirements.txt").read_text()
    venv = ROOT / "requirements-dev.txt", ROOT / "deps" / "python-dynamic_etl.txt"
    dev = "".join(path.read_text() for path in venv)
    for package in ("pandas", "numpy", "pyarrow"):
        pin = re.compile(rf"^{package}==(\S+)", re.MULTILINE)
        assert pin.search(image).group(1) == pin.search(dev).group(1), package


def test_the_stack_is_nested_in_the_root_template():
    root = cfn_yaml.load(ROOT / "template.yaml")
    (app,) = [r for r in root["Resources"].values()
              if r["Type"] == "AWS::Serverless::Application"
              and r["Properties"]["Location"] == "stacks/dynamic_etl.yaml"]
    assert set(app["Properties"]["Parameters"]) <= set(STACK["Parameters"])
