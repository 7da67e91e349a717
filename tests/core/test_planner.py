from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from velollm.core import planner
from velollm.core.files import RenderedFile, sha256_text
from velollm.errors import ConfigError


def _changes(**kw: object) -> tuple[planner.Change, ...]:
    args: dict[str, object] = {"current_env": {}, "desired_env": {}, "current_models": {},
                               "desired_models": {}, "reasons": {}}
    args.update(kw)
    return planner.diff_settings(**args)  # type: ignore[arg-type]


def test_add_change_remove_with_reasons() -> None:
    changes = _changes(
        current_env={"OLLAMA_NUM_PARALLEL": "1", "OLLAMA_DEBUG": "1", "OLLAMA_KEEP_ALIVE": "5m"},
        desired_env={"OLLAMA_NUM_PARALLEL": "4", "OLLAMA_FLASH_ATTENTION": "1",
                     "OLLAMA_KEEP_ALIVE": "5m"},
        reasons={"OLLAMA_NUM_PARALLEL": "four slots fit", "OLLAMA_FLASH_ATTENTION": "saves VRAM"},
    )
    assert [(c.action, c.key, c.before, c.after) for c in changes] == [
        ("remove", "OLLAMA_DEBUG", "1", None),
        ("add", "OLLAMA_FLASH_ATTENTION", None, "1"),
        ("change", "OLLAMA_NUM_PARALLEL", "1", "4"),
    ]
    by_key = {c.key: c for c in changes}
    assert by_key["OLLAMA_NUM_PARALLEL"].reason == "four slots fit"
    assert by_key["OLLAMA_DEBUG"].action == "remove"
    assert "OLLAMA_KEEP_ALIVE" not in by_key


def test_model_parameters_and_drift_wording() -> None:
    changes = _changes(
        current_models={"llama3.1:8b": {"num_ctx": "2048"}},
        desired_models={"llama3.1:8b": {"num_ctx": "8192"}, "tiny": {"num_thread": "2"}},
        reasons={"llama3.1:8b num_ctx": "0.5.4 does not read OLLAMA_CONTEXT_LENGTH"},
        drifted=True,
    )
    by_key = {c.key: c for c in changes}
    assert by_key["llama3.1:8b num_ctx"].scope == "model"
    assert by_key["llama3.1:8b num_ctx"].reason.endswith("(changed outside velollm)")
    assert by_key["tiny num_thread"].action == "add"
    assert "outside" not in by_key["tiny num_thread"].reason


def test_no_changes() -> None:
    env = {"OLLAMA_NUM_PARALLEL": "2"}
    assert _changes(current_env=env, desired_env=dict(env)) == ()


def test_plan_round_trips_through_json() -> None:
    content = "export OLLAMA_NUM_PARALLEL='4'\n"
    plan = planner.Plan(
        target_kind="shell", target_path="/tmp/x.sh", env={"OLLAMA_NUM_PARALLEL": "4"},
        model_params={"tiny": {"num_ctx": "4096"}},
        changes=_changes(desired_env={"OLLAMA_NUM_PARALLEL": "4"}),
        files=(RenderedFile(Path("/tmp/x.sh"), content, 0o644, "shell", ("source /tmp/x.sh",),
                            "restart ollama serve"),),
        warnings=("w",), notes=("n",), fingerprint={"config": "abc"}, offline=True,
        ollama_version="0.5.4", unset=("OLLAMA_MAX_QUEUE",))
    doc = json.loads(json.dumps(plan.to_dict()))
    assert doc["summary"] == {"add": 1, "change": 0, "remove": 0}
    assert doc["unset"] == ["OLLAMA_MAX_QUEUE"]
    assert planner.plan_from_dict(doc) == plan


def test_a_file_whose_content_does_not_match_its_sha256_is_a_damaged_plan() -> None:
    content = "export OLLAMA_NUM_PARALLEL='4'\n"
    plan = planner.Plan(target_kind="shell", target_path="/tmp/x.sh", env={}, model_params={},
                        changes=(), files=(RenderedFile(Path("/tmp/x.sh"), content),))
    doc = plan.to_dict()
    assert doc["files"][0]["sha256"] == sha256_text(content)
    doc["files"][0]["content"] = "export OLLAMA_NUM_PARALLEL='64'\n"  # edited by hand
    with pytest.raises(ConfigError, match="damaged"):
        planner.plan_from_dict(doc)


def test_a_stop_list_compares_whole_and_stays_a_list_in_the_plan_file() -> None:
    stops, other = ("<|eot_id|>", "User:"), ("<|eot_id|>", "Human:")
    assert _changes(current_models={"m": {"stop": stops}},
                    desired_models={"m": {"stop": tuple(stops)}}) == ()
    [change] = _changes(current_models={"m": {"stop": stops}},
                        desired_models={"m": {"stop": other}})
    assert (change.action, change.key, change.before, change.after) == (
        "change", "m stop", stops, other)
    plan = planner.Plan(target_kind="shell", target_path="/tmp/x.sh", env={},
                        model_params={"m": {"stop": other, "num_ctx": "4096"}},
                        changes=(change,), files=())
    doc = json.loads(json.dumps(plan.to_dict()))
    assert doc["model_params"]["m"] == {"stop": ["<|eot_id|>", "Human:"], "num_ctx": "4096"}
    assert (doc["changes"][0]["before"], doc["changes"][0]["after"]) == (list(stops), list(other))
    assert planner.plan_from_dict(doc) == plan


def test_foreign_json_is_not_a_plan() -> None:
    with pytest.raises(ConfigError, match="not a velollm plan"):
        planner.plan_from_dict({"kind": "velollm.hardware"})


def test_stale_reasons_name_what_changed() -> None:
    assert planner.stale_reasons({"config": "a", "file:/x": "1"},
                                 {"config": "b", "file:/x": "1"}) == [
        "velollm.yaml changed since the plan was made"]
    assert planner.stale_reasons({"file:/x": "1"}, {"file:/x": "2"}) == [
        "/x changed since the plan was made"]


def test_fingerprint_ignores_key_order() -> None:
    assert planner.fingerprint_of({"a": 1, "b": 2}) == planner.fingerprint_of({"b": 2, "a": 1})


def test_disjoint_keys_are_listed_one_by_one() -> None:
    changes = _changes(current_env={"OLLAMA_DEBUG": "1"},
                       desired_env={"OLLAMA_NUM_PARALLEL": "4"})
    assert [(c.action, c.key) for c in changes] == [("remove", "OLLAMA_DEBUG"),
                                                    ("add", "OLLAMA_NUM_PARALLEL")]


_VALUES = st.one_of(st.text(max_size=5), st.tuples(st.text(max_size=3)))
_SIDE = st.fixed_dictionaries({"server": st.dictionaries(st.text(min_size=1, max_size=4), _VALUES,
                                                         max_size=4),
                               "model": st.dictionaries(st.text(min_size=1, max_size=4), _VALUES,
                                                        max_size=4)})


def _by_deepdiff(before: dict[str, Any], after: dict[str, Any]) -> set[tuple[str, str]]:
    diff = planner._deepdiff()(before, after, view="tree", threshold_to_diff_deeper=0)
    return {(str(i.path(output_format="list")[0]), str(i.path(output_format="list")[1]))
            for items in diff.values() for i in items}


@given(side=_SIDE, empty=st.sampled_from(["before", "after", "equal"]))
def test_the_shortcuts_agree_with_deepdiff(side: dict[str, Any], empty: str) -> None:
    """Without a diff library when there is nothing to compare (the same values; nothing on one
    side): the same settings as deepdiff finds."""
    nothing: dict[str, dict[str, Any]] = {"server": {}, "model": {}}
    before, after = {"before": (nothing, side), "after": (side, nothing),
                     "equal": (side, {k: dict(v) for k, v in side.items()})}[empty]
    assert planner._touched(before, after) == _by_deepdiff(before, after)
