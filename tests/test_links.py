"""tray.links: what may reach a browser (examples from issue 8, then random input)."""

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.provisional import urls

from logtray.tray.base.links import is_web_url, safe_url

KIBANA = ("http://127.0.0.1:5601",)


def test_kibana_links_pass():
    url = "http://127.0.0.1:5601/app/discover#/?_g=(time:(from:now-15m))&_a=(query:'x')"
    assert safe_url(url, KIBANA) == url
    assert safe_url("http://127.0.0.1:5601", KIBANA) == "http://127.0.0.1:5601"
    assert safe_url("HTTP://127.0.0.1:5601/app", KIBANA) is not None


def test_what_issue_8_sent_is_refused():
    for url in [
        "file:///etc/passwd",
        "javascript:alert(1)",
        "ssh://host/x",
        "--gpu-launcher=xcalc --",
        "-http://127.0.0.1:5601/",
        " http://127.0.0.1:5601/",
        "http://127.0.0.1:5601 --gpu-launcher=xcalc",
        "http://127.0.0.1:5601\\@evil.example/",
        "http://127.0.0.1:5601@evil.example/",
        "http://127.0.0.1:56010/",
        "http://127.0.0.1:5601.evil.example/",
        "https://127.0.0.1:5601/",  # another scheme is another origin
        "http://evil.example/app/discover",
        "http://127.0.0.1:5601/../x",
        "http://127.0.0.1:5601/app/%2e%2e/x",
        "http:127.0.0.1:5601/",
        "http://127.0.0.1:5601/\x00",
        "http://127.0.0.1:5601/é",
        "",
        None,
        42,
    ]:
        assert safe_url(url, KIBANA) is None, url


def test_allow_list_widens_by_prefix_at_a_path_boundary():
    allowed = (*KIBANA, "https://grafana.example/d/")
    assert safe_url("https://grafana.example/d/abc?x=1", allowed)
    assert safe_url("https://grafana.example:443/d/abc", allowed)
    assert safe_url("https://grafana.example/dash", allowed) is None
    assert safe_url("https://grafana.example/", allowed) is None


def test_config_form():
    assert is_web_url("http://kibana:5601")
    assert not is_web_url("kibana:5601")
    assert not is_web_url("ftp://kibana")


@given(st.text(max_size=200))
def test_random_text_is_never_an_option_and_always_http(text):
    url = safe_url(text, KIBANA)
    if url is not None:
        assert url == text
        assert url.lower().startswith("http://127.0.0.1:5601")
        assert not url.startswith("-")


@given(urls())
def test_random_urls_only_pass_on_the_kibana_origin(url):
    result = safe_url(url, KIBANA)
    if result is not None:
        assert result.lower().startswith(("http://127.0.0.1:5601/", "http://127.0.0.1:5601"))


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=60))
def test_anything_appended_to_the_base_stays_on_its_origin(tail):
    result = safe_url("http://127.0.0.1:5601/" + tail, KIBANA)
    if result is not None:
        assert all(ord(c) > 0x20 for c in result) and "\\" not in result
