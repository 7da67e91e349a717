"""mask_secrets: no password of a proxy URL survives, however it was quoted for a target."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from velollm.core.secrets import MASK, has_secret, mask_document, mask_secrets
from velollm.io.render import fish_quote, sh_quote, systemd_quote

# Passwords as users type them: anything but blanks (a URL cannot hold those unescaped).
PASSWORD = st.text(st.characters(codec="utf-8", exclude_categories=["Z", "Cc", "Cs", "Cn"]),
                   min_size=4, max_size=24)


@pytest.mark.parametrize(("text", "masked"), [
    ("http://user:pass@proxy:3128", "http://user:***@proxy:3128"),
    ("HTTPS_PROXY=http://user:pass@proxy", "HTTPS_PROXY=http://user:***@proxy"),
    ("https://ghp_token@github.com/x", "https://***@github.com/x"),
    ("socks5h://a:b@h:1080", "socks5h://a:***@h:1080"),
    ("http://u:p@ss@host/x", "http://u:***@host/x"),
    ("HTTPS_PROXY=user:pass@proxy:3128", "HTTPS_PROXY=user:***@proxy:3128"),
    ("a http://u:p@h and http://v:q@i", "a http://u:***@h and http://v:***@i"),
    ("http://proxy:3128", "http://proxy:3128"),
    ("write to me@example.org", "write to me@example.org"),
    ("llama3.2:1b", "llama3.2:1b"),
])
def test_mask_secrets(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked
    assert mask_secrets(masked) == masked  # idempotent: a masked report stays as it is
    assert has_secret(text) == (text != masked)


@settings(max_examples=150, deadline=None, database=None)
@given(password=PASSWORD, user=st.from_regex(r"[a-z][a-z0-9._-]{0,8}", fullmatch=True))
def test_no_password_survives_any_quoting(password: str, user: str) -> None:
    url = f"http://{user}:{password}@proxy.example:3128"
    for shown in (url, sh_quote(url), fish_quote(url), systemd_quote(f"HTTPS_PROXY={url}"),
                  json.dumps(url), json.dumps({"HTTPS_PROXY": url}), repr(url),
                  f"HTTPS_PROXY = {url} -> {url}"):
        masked = mask_secrets(shown)
        assert password not in masked, (shown, masked)
        assert f"{user}:{MASK}@proxy.example" in masked


def test_mask_document_masks_every_string() -> None:
    doc = {"env": {"HTTPS_PROXY": "http://u:pw@h"}, "list": ["x", "http://t@h", 3, None],
           "http://k:v@h": True}
    assert mask_document(doc) == {"env": {"HTTPS_PROXY": "http://u:***@h"},
                                  "list": ["x", "http://***@h", 3, None], "http://k:***@h": True}


@pytest.mark.parametrize(("text", "masked"), [
    ("NO_SCHEME=u:p@[::1]:3128", "NO_SCHEME=u:***@[::1]:3128"),
    ("llama3:8b@sha256:abcd", "llama3:8b@sha256:abcd"),  # a model digest, not a credential
    ("hf.co/user/model:Q4@x", "hf.co/user/model:Q4@x")])
def test_bare_credentials_only_before_a_host(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked
