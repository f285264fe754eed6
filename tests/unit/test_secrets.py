"""One masking rule for config --show and the logs: keys, SecretStr, URL user info, tokens."""

from pydantic import SecretStr

from stream_align.secrets import MASK, is_secret_key, mask_secrets, mask_text, url_has_userinfo


def test_secret_keys_are_whole_words() -> None:
    for key in ("sasl.password", "api_token", "basic.auth.user.info", "ssl.key.password",
                "sasl.oauthbearer.client.secret", "schema_registry_password", "apiKey"):
        assert is_secret_key(key), key
    for key in ("n_tokens", "tokenizer", "ssl.key.location", "bootstrap.servers", None):
        assert not is_secret_key(key), key


def test_urls_lose_userinfo_and_token_parameters() -> None:
    assert mask_text("https://u:pw@sr:8081/x") == f"https://{MASK}@sr:8081/x"
    assert mask_text("a,https://u:pw@h1,http://tok@h2") == f"a,https://{MASK}@h1,http://{MASK}@h2"
    masked = mask_text("https://h/p?access_token=abc&page=2&X-Amz-Signature=ff&sig=9")
    assert "abc" not in masked and "ff" not in masked and "=9" not in masked
    assert "page=2" in masked
    assert mask_text("broker-1:9092,broker-2:9092") == "broker-1:9092,broker-2:9092"
    assert url_has_userinfo("https://u:p@h") and not url_has_userinfo("https://h/@x")


def test_mask_secrets_walks_nested_values() -> None:
    value = {"kafka": {"sasl_password": "p", "extra": {"ssl.keystore.password": "k", "n": 1}},
             "urls": ["https://u:p@h"], "s": SecretStr("x"), "none_password": None}
    assert mask_secrets(value) == {
        "kafka": {"sasl_password": MASK, "extra": {"ssl.keystore.password": MASK, "n": 1}},
        "urls": [f"https://{MASK}@h"], "s": MASK, "none_password": None}
