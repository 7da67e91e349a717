"""Shared values for the apply tests: the nasty values every target must carry exactly."""

from __future__ import annotations

# Each value exercises one quoting hazard of at least one syntax (shell, fish, systemd, plist).
NASTY: dict[str, str] = {
    "V_SPACES": "  two  spaces and trailing ",
    "V_SQUOTE": "it's 'quoted'",
    "V_DQUOTE": 'say "hi"',
    "V_DOLLAR": "$HOME/x ${HOME} $1 $@",
    "V_SUBST": "$(touch pwned-subst) `touch pwned-tick`",
    "V_PERCENT": "%h %% 100% %n",
    "V_BACKSLASH": "back\\slash \\\\ end\\",
    "V_BS_N": "literal\\n not a newline \\t \\x41",
    "V_UNICODE": "é 漢字 😀 ß",
    "V_EMPTY": "",
    "V_GLOB": "* ? [ab] ~ {1,2}",
    "V_MIX": "a'b\"c\\d$e`f%g!h;&|<>#()",
    "V_HIST": "!! !$ ^a^b",
    "OLLAMA_HOST": "0.0.0.0:11434",
}
