"""The mining definition: valid ASL, substitutions the stack provides, and the Map reading its
identifiers from S3 (no long list in the state)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from localcloud import cfn_yaml
from tools import asl_check

ROOT = Path(__file__).resolve().parents[3]
DEFINITION = ROOT / "statemachines" / "data_mining.asl.json"
STACK = ROOT / "stacks" / "data_mining.yaml"


def test_definition_is_valid_and_matches_the_stack() -> None:
    assert asl_check.check_file(DEFINITION) == []
    used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", DEFINITION.read_text()))
    machine = cfn_yaml.load(STACK)["Resources"]["MiningStateMachine"]["Properties"]
    assert used == set(machine["DefinitionSubstitutions"])


def test_map_reads_identifiers_from_s3_and_contains_item_failures() -> None:
    states = json.loads(DEFINITION.read_text())["States"]
    scrape = states["ScrapeItems"]
    assert scrape["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert scrape["ItemReader"]["Parameters"] == {"Bucket.$": "$.identifiers.bucket",
                                                  "Key.$": "$.identifiers.key"}
    assert "ItemsPath" not in scrape and scrape["ResultPath"] is None
    assert scrape["MaxConcurrencyPath"] == "$.max_concurrency"
    inner = scrape["ItemProcessor"]["States"]
    assert inner["ScrapeItem"]["Catch"][0]["Next"] == "ItemNotScraped"
    assert states["Populate"]["Parameters"]["Payload"]["identifiers.$"] == "$.identifiers"
    assert states["Etl"]["Catch"][0]["Next"] == "DatasetRejected"
    assert states["DatasetRejected"]["CausePath"] == "$.error.Cause"
