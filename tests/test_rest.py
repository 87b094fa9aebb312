"""The LibreTranslate-compatible REST routes on a live server, with replica models."""

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest
from conftest import serve_options, start_server

from khulasa.eval.load_test import run as load_test
from khulasa.serve.rest.markup import translate_html

AR = "قال وزير الخارجية الأمركي جون كيري في ختام مؤتمر لدول التحالف في بروكسل."


@pytest.fixture(scope="module")
def options(replicas):
    return serve_options(replicas, summarizer="extractive", backend="torch", queue_size=16)


@pytest.fixture(scope="module")
def server(options):
    running = start_server(options)
    yield running.url
    running.close()


@pytest.fixture(scope="module")
def guarded(replicas):
    """A server that wants an API key and allows 4 requests a minute."""
    options = serve_options(
        replicas,
        summarizer="extractive",
        backend="torch",
        req_limit=4,
        api_keys=frozenset({"k1"}),
        char_limit=500,
        batch_limit=2,
    )
    running = start_server(options)
    yield running.url
    running.close()


def call(
    url: str,
    path: str,
    payload: dict | None = None,
    method: str = "POST",
    form: bool = False,
    raw: bytes | None = None,
    headers: dict | None = None,
):
    """(status, JSON body) of one request: JSON by default, a urlencoded form with `form`,
    or `raw` bytes as they are."""
    kind = "application/x-www-form-urlencoded" if form else "application/json"
    if raw is not None:
        data = raw
    elif payload is None:
        data = None
    elif form:
        data = urllib.parse.urlencode(payload, doseq=True).encode()
    else:
        data = json.dumps(payload).encode()
    req = urllib.request.Request(
        url.rstrip("/") + path,
        data,
        method=method,
        headers={"Content-Type": kind, **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        body = err.read()
        return err.code, json.loads(body) if body else None


def test_the_real_libretranslate_client_works_unchanged(server):
    from libretranslatepy import LibreTranslateAPI

    lt = LibreTranslateAPI(server)
    english = lt.translate(AR, "ar", "en")
    assert isinstance(english, str) and english
    assert lt.translate(AR, "auto", "en") == english
    assert lt.translate("Already English.", "en", "en") == "Already English."
    assert lt.detect(AR) == [{"confidence": 100.0, "language": "ar"}]
    assert lt.detect("Hello world")[0]["language"] == "en"
    assert {"code": "ar", "name": "Arabic", "targets": ["en"]} in lt.languages()


def test_arrays_detection_and_alternatives(server):
    status, body = call(
        server,
        "/translate",
        {"q": [AR, "Hello", ""], "source": "auto", "target": "en", "alternatives": 2},
    )
    assert status == 200
    assert len(body["translatedText"]) == 3 and body["translatedText"][1:] == ["Hello", ""]
    assert [d["language"] for d in body["detectedLanguage"]] == ["ar", "en", "ar"]
    assert len(body["alternatives"][0]) == 2 and body["alternatives"][1] == []
    status, single = call(server, "/translate", {"q": AR, "source": "ar", "target": "en"})
    assert single == {"translatedText": body["translatedText"][0]}
    # A form body (as LibreTranslate's own page sends), with a repeated q, answers the same.
    status, by_form = call(server, "/translate", {"q": [AR, "Hello"], "source": "auto"}, form=True)
    assert status == 200 and by_form["translatedText"] == body["translatedText"][:2]


def test_html_keeps_markup_and_escapes_model_output(server):
    html = '<p class="lead">قال كيري</p><script>var x = "قال";</script><br/>'
    status, body = call(server, "/translate", {"q": html, "source": "ar", "format": "html"})
    assert status == 200
    out = body["translatedText"]
    assert out.startswith('<p class="lead">') and '<script>var x = "قال";</script><br/>' in out
    assert out.count("<") == html.count("<")  # the translation added no markup
    evil = translate_html("<i>قال</i>", lambda texts: ["<b onmouseover=x>evil</b>" for _ in texts])
    assert evil == "<i>&lt;b onmouseover=x&gt;evil&lt;/b&gt;</i>"
    # A tag left open at the end is markup: kept as it is, never translated as text.
    status, body = call(server, "/translate", {"q": '<p>قال</p><a href="x', "format": "html"})
    assert status == 200 and body["translatedText"].endswith('</p><a href="x')


def test_summarize_health_and_openapi(server):
    status, body = call(server, "/summarize", {"q": AR + " " + AR})
    assert status == 200 and body["translatedText"] == body["document"]["translation"]
    assert all(set(s) == {"text", "sources", "flags", "source_flags"} for s in body["summary"])
    # Replica English is flagged: each key point carries its sources' warnings.
    assert body["summary"] and all(s["source_flags"] for s in body["summary"])
    assert body["summary"] == [
        {k: s[k] for k in ("text", "sources", "flags", "source_flags")}
        for s in body["document"]["summary"]
    ]
    assert body["trust"] == body["document"]["meta"]["trust"] and "to_check" in body["trust"]
    status, health = call(server, "/health", method="GET")
    assert status == 200 and health["status"] == "ok"
    assert health["backend"] == "torch"  # the backend in use, not the option's "auto"
    status, spec = call(server, "/spec", method="GET")
    assert {"/translate", "/detect", "/languages", "/summarize", "/health"} <= set(spec["paths"])
    assert (
        "q"
        in spec["paths"]["/translate"]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]["properties"]
    )


LIBRETRANSLATE_SETTINGS = {  # the fields LibreTranslate 1.9 answers /frontend/settings with
    "apiKeys", "charLimit", "filesTranslation", "frontendTimeout", "keyRequired", "language",
    "suggestions", "supportedFilesFormat",
}  # fmt: skip


def test_frontend_settings_have_libretranslates_shape(server, guarded):
    status, body = call(server, "/frontend/settings", method="GET")
    assert status == 200 and set(body) == LIBRETRANSLATE_SETTINGS
    assert body["language"] == {
        "source": {"code": "ar", "name": "Arabic"},
        "target": {"code": "en", "name": "English"},
    }
    assert (body["keyRequired"], body["charLimit"]) == (False, 20_000)
    assert (body["filesTranslation"], body["supportedFilesFormat"], body["suggestions"]) == (
        True, [".txt", ".html", ".docx", ".pdf"], False,
    )  # fmt: skip
    status, body = call(guarded, "/frontend/settings", method="GET")
    assert (body["keyRequired"], body["apiKeys"], body["charLimit"]) == (True, True, 500)


@pytest.mark.parametrize(
    "payload, fragment",
    [
        ({"source": "ar"}, "missing q parameter"),
        ({"q": AR, "target": "fr"}, "fr is not supported"),
        ({"q": AR, "source": "de"}, "de is not supported"),
        ({"q": AR, "format": "xml"}, "xml format is not supported"),
        ({"q": AR, "alternatives": 99}, "exceeds limit"),
        ({"q": [AR, 3]}, "array of strings"),
    ],
)
def test_bad_parameters_get_400_with_an_error(server, payload, fragment):
    status, body = call(server, "/translate", payload)
    assert status == 400 and fragment in body["error"]


def test_keys_limits_and_rate(guarded):
    assert call(guarded, "/translate", {"q": AR})[0] == 403
    status, body = call(guarded, "/translate", {"q": AR, "api_key": "wrong"})
    assert status == 403 and body["error"] == "Invalid API key"
    status, body = call(guarded, "/translate", {"q": "ب" * 501, "api_key": "k1"})
    assert status == 400 and "exceeds text limit (500)" in body["error"]
    codes = [call(guarded, "/translate", {"q": AR, "api_key": "k1"})[0] for _ in range(3)]
    assert 429 in codes and call(guarded, "/detect", {"q": AR, "api_key": "k1"})[0] == 429


def test_internal_errors_have_no_traceback(options):
    from khulasa.serve.service import ModelPool

    pool = ModelPool(options)
    running = start_server(options, pool)
    pool.get = lambda *a: (_ for _ in ()).throw(RuntimeError("secret internals"))
    try:
        status, body = call(running.url, "/translate", {"q": AR, "source": "ar"})
    finally:
        running.close()
    assert status == 500 and "secret" not in body["error"] and "Traceback" not in body["error"]


def test_bounded_load_on_loopback(server):
    # 40 clients at once against 8 slots and 16 waiting: the line overflows (503) as with 50,
    # in less time; the full-size load test is `khulasa bench load`.
    result = load_test(server, clients=40, requests=1, timeout=120)
    print("load test:", json.dumps(result))
    assert result["answered"] == result["sent"] == 40  # none lost or hung
    assert set(result["codes"]) <= {"200", "429", "503"}
    assert result["codes"].get("200", 0) > 0 and result["codes"].get("503", 0) > 0
    assert call(server, "/health", method="GET")[0] == 200
