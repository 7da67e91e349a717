#!/usr/bin/python
# MIT License (see the VeloLLM repository)
"""Ansible module: run `velollm apply --json` on the managed host."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: velollm_apply
short_description: Apply a velollm.yaml to the Ollama server on this host
description:
  - Runs C(velollm apply --auto-approve --json) on the managed host and reports Ansible's standard
    result from velollm's JSON document.
  - VeloLLM plans for the host's own hardware (or for the hardware in O(hardware_file)), so one
    shared velollm.yaml with C(overrides) gives each host the settings that fit it.
  - In check mode it runs C(velollm apply --check), which writes nothing. In diff mode the
    before/after text of every file velollm would write is returned as the task diff.
  - A second run with nothing new reports C(changed=false).
version_added: "0.1.0"
author: VeloLLM contributors
options:
  config:
    description: Path of velollm.yaml on the managed host.
    type: path
  config_content:
    description:
      - The text of velollm.yaml, e.g. C(lookup('ansible.builtin.file', 'velollm.yaml')) from the
        controller. Written to a private temporary file on the host for the run.
    type: str
  config_name:
    description: Name that velollm's messages use for O(config_content) instead of the temp path.
    type: str
    default: velollm.yaml
  target:
    description: Where the settings go (velollm's C(--target)).
    type: str
    default: auto
    choices: [auto, shell, fish, systemd, systemd-user, launchd]
  path:
    description: Override the target file (velollm's C(--path)).
    type: path
  hardware_file:
    description:
      - A C(velollm detect --json) document on the host to plan for instead of detecting.
    type: path
  executable:
    description: The velollm program on the host, a name looked up in PATH or a path.
    type: str
    default: velollm
  env:
    description:
      - Extra environment for velollm, e.g. C(HOME), C(XDG_STATE_HOME), C(OLLAMA_HOST).
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
notes:
  - Exactly one of O(config) and O(config_content) is required.
"""

EXAMPLES = r"""
- name: Apply the shared velollm.yaml
  velollm.ollama.velollm_apply:
    config_content: "{{ lookup('ansible.builtin.file', 'velollm.yaml') }}"
    target: systemd
  become: true
  register: velollm_result

- name: Shell target for a user account, planned for a recorded hardware document
  velollm.ollama.velollm_apply:
    config: ~/velollm.yaml
    target: shell
    hardware_file: ~/host-detect.json
"""

RETURN = r"""
changed:
  description: Whether velollm changed (or in check mode would change) any file.
  type: bool
  returned: always
msg:
  description: velollm's summary, or its error message with the hint.
  type: str
  returned: always
files:
  description: The files velollm manages for this target.
  type: list
  elements: str
  returned: success
diff:
  description: Before/after text per file, in Ansible's diff format.
  type: list
  elements: dict
  returned: success, in diff mode
velollm:
  description: velollm's whole JSON document.
  type: dict
  returned: success
"""

import os
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.velollm.ollama.plugins.module_utils.velollm_cli import (
    VelollmRunError,
    resolve_executable,
    run_json,
    velollm_env,
)


def _config_file(module: AnsibleModule) -> tuple[str, tuple[str, str] | None]:
    """The config path for velollm, and (temp path, shown name) when it came as content."""
    params = module.params
    if params["config"]:
        return str(params["config"]), None
    name = os.path.basename(params["config_name"]) or "velollm.yaml"
    directory = os.path.join(module.tmpdir, "velollm-config")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(params["config_content"])
    return path, (path, params["config_name"])


def build_argv(executable: str, config: str, params: dict[str, Any], check: bool,
               diff: bool) -> list[str]:
    argv = [executable, "apply", "-f", config, "--target", params["target"], "--auto-approve",
            "--json"]
    if params["path"]:
        argv += ["--path", params["path"]]
    if params["hardware_file"]:
        argv += ["--hardware", params["hardware_file"]]
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    return argv


def ansible_diff(doc: dict[str, Any]) -> list[dict[str, str]]:
    """velollm's [{path, before, after}] as Ansible's before/after dicts, one per changed file."""
    result = []
    for entry in doc.get("diff") or []:
        before, after = entry.get("before") or "", entry.get("after") or ""
        if before == after:
            continue
        path = str(entry.get("path", ""))
        result.append({"before": before, "after": after,
                       "before_header": f"{path} (before)", "after_header": f"{path} (after)"})
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "config": {"type": "path"},
            "config_content": {"type": "str"},
            "config_name": {"type": "str", "default": "velollm.yaml"},
            "target": {"type": "str", "default": "auto",
                       "choices": ["auto", "shell", "fish", "systemd", "systemd-user",
                                   "launchd"]},
            "path": {"type": "path"},
            "hardware_file": {"type": "path"},
            "executable": {"type": "str", "default": "velollm"},
            "env": {"type": "dict", "default": {}},
        },
        mutually_exclusive=[("config", "config_content")],
        required_one_of=[("config", "config_content")],
        supports_check_mode=True,
    )
    try:
        executable = resolve_executable(module, module.params["executable"])
        config, replace = _config_file(module)
        argv = build_argv(executable, config, module.params, module.check_mode, module._diff)
        doc = run_json(module, argv, velollm_env(module.params["env"]), replace)
    except VelollmRunError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    result: dict[str, Any] = {
        "changed": bool(doc.get("changed")),
        "msg": str(doc.get("msg") or ""),
        "files": [str(f) for f in doc.get("files") or []],
        "velollm": doc,
    }
    if module._diff:
        result["diff"] = ansible_diff(doc)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
