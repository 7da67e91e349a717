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

# Stop sequences for the Modelfile, whose parser (Ollama's parser.go) has no escapes: it trims the
# value and strips one pair of double quotes, or of tripled ones. Each is a hazard of that rule.
NASTY_STOPS: tuple[str, ...] = (
    "<|eot_id|>",  # a plain word: written bare
    " User:",  # a space at the start or at the end: trimmed unless quoted
    "Assistant: ",
    "two  spaces",
    '"',  # a lone quote
    '""',  # two quotes: wrapped in one pair it reads as the start of a tripled quote
    '""x',
    '"quoted"',  # quoted already: bare, the parser would strip its quotes; wrapped once more
    'say "hi"',
    '"hi" ',  # a quote first and a space last: quoted, and exact on every Ollama version
    'x"',  # a quote at the end only: bare is exact
    "it's # $HOME `id` back\\slash \\n",  # what other syntaxes treat specially, literal here
    "漢字 😀",
)
