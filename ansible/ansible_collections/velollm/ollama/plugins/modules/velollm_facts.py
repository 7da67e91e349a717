#!/usr/bin/python
# MIT License (see the VeloLLM repository)
"""Ansible module: the host's hardware from `velollm detect --json`, as facts."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: velollm_facts
short_description: Hardware facts (GPUs, VRAM, CPU, RAM, Ollama install) from VeloLLM
description:
  - Runs C(velollm detect --json) on the managed host and returns the document as the fact
    C(velollm_hardware), so playbooks can branch on a host's hardware and operators can
    review it.
  - With O(hardware_file) the document is read from that file instead (a recorded or
    simulated host).
version_added: "0.1.0"
author: VeloLLM contributors
options:
  hardware_file:
    description: A C(velollm detect --json) document on the host to report instead of detecting.
    type: path
  executable:
    description: The velollm program on the host, a name looked up in PATH or a path.
    type: str
    default: velollm
  env:
    description: Extra environment for velollm.
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
"""

EXAMPLES = r"""
- name: Detect each host's hardware
  velollm.ollama.velollm_facts:

- name: Show the GPUs of every host
  ansible.builtin.debug:
    msg: "{{ ansible_facts['velollm_hardware']['gpus'] | map(attribute='name') | list }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts added to the host.
  returned: always
  type: dict
  contains:
    velollm_hardware:
      description: The hardware document (format_version 1, kind velollm.hardware).
      type: dict
      returned: always
"""

import json
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.velollm.ollama.plugins.module_utils.velollm_cli import (
    SUPPORTED_FORMAT_VERSION,
    VelollmRunError,
    resolve_executable,
    run_json,
    velollm_env,
)

KIND = "velollm.hardware"


def read_hardware_file(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise VelollmRunError(f"cannot read hardware file {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise VelollmRunError(f"hardware file {path} is not JSON: {exc}; write it with "
                              "`velollm detect --json > FILE`") from exc
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise VelollmRunError(f"{path} is not a velollm hardware document (kind {KIND}); write "
                              "it with `velollm detect --json > FILE`")
    if doc.get("format_version") != SUPPORTED_FORMAT_VERSION:
        raise VelollmRunError(f"{path} has format_version {doc.get('format_version')!r}; this "
                              f"collection reads version {SUPPORTED_FORMAT_VERSION}")
    return doc


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "hardware_file": {"type": "path"},
            "executable": {"type": "str", "default": "velollm"},
            "env": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    try:
        if module.params["hardware_file"]:
            doc = read_hardware_file(module.params["hardware_file"])
        else:
            executable = resolve_executable(module, module.params["executable"])
            doc = run_json(module, [executable, "detect", "--json"],
                           velollm_env(module.params["env"]))
    except VelollmRunError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(changed=False, ansible_facts={"velollm_hardware": doc})


if __name__ == "__main__":
    main()
