"""One limit for every door: page, page API and REST share `--concurrency` and
`--queue-size`. A slow translator behind the interface holds a job in the model."""

import threading
import time

from conftest import serve_options, start_server
from test_rest import AR, call

from khulasa.models.pipeline import Pipeline
from khulasa.serve.service import ModelPool
from khulasa.serve.web.page import API_NAME


class SlowTranslator:
    """The real translator behind the interface, held at `release` and counting how many
    jobs are inside the model at once."""

    def __init__(self, inner, release: threading.Event):
        self.inner, self.release = inner, release
        self.backend = inner.backend
        self.inside = self.most_inside = 0
        self.entered = threading.Event()
        self._lock = threading.Lock()

    @property
    def settings(self):
        return self.inner.settings

    def count_tokens(self, text):
        return self.inner.count_tokens(text)

    def pieces(self, sentence):
        return self.inner.pieces(sentence)

    def translate(self, texts):
        return self.inner.translate(texts)

    def translate_iter(self, texts, n=1, first_batch=None, retry=False):
        with self._lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        self.entered.set()
        try:
            self.release.wait(60)
            yield from self.inner.translate_iter(texts, n, first_batch, retry)
        finally:
            with self._lock:
                self.inside -= 1


def test_page_and_rest_share_one_limit_and_one_line(replicas, sample_ar):
    # Over 60 lines for a reason: one scenario, step by step, whose order is the point.
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    options = serve_options(
        replicas, summarizer="none", backend="torch", concurrency=1, queue_size=2
    )
    pool = ModelPool(options)
    release = threading.Event()
    slow = SlowTranslator(pool.default.translator, release)
    pool.get = lambda *args: Pipeline(slow, None, mark_memory=False)
    server = start_server(options, pool)
    gate = server.gate
    results, finished = {}, {}

    def rest(name):
        results[name] = call(server.url, "/translate", {"q": AR, "source": "ar"})
        finished[name] = time.monotonic()

    def wait_for(condition, what):
        deadline = time.monotonic() + 30
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.02)

    try:
        t0 = time.monotonic()
        a = threading.Thread(target=rest, args=("rest-1",))
        a.start()  # REST job 1 runs, held inside the model
        wait_for(slow.entered.is_set, "the first job to reach the model")
        client = Client(server.url, verbose=False)
        page_job = client.submit(sample_ar, api_name=f"/{API_NAME}")  # the other door: waits
        wait_for(lambda: gate.load() == 2, "the page job to queue")
        c = threading.Thread(target=rest, args=("rest-2",))
        c.start()  # a third job: the line is now full (1 running + 2 waiting)
        wait_for(lambda: gate.load() == 3, "the third job to queue")
        # The one slot is held inside the model: the page job waits its turn at the gate.
        assert not page_job.done() and slow.most_inside == 1
        refused_rest = call(server.url, "/translate", {"q": AR, "source": "ar"})
        refused_page = client.submit(sample_ar, api_name=f"/{API_NAME}")
        try:
            refused_page.result(timeout=30)
            page_refusal = None
        except AppError as exc:
            page_refusal = str(exc)
        released = time.monotonic()
        release.set()
        doc = page_job.result(timeout=120)
        page_done = time.monotonic()
        a.join(120)
        c.join(120)
    finally:
        release.set()
        server.close()
    print(
        f"gate timings: first REST job held {released - t0:.2f} s; the page job finished "
        f"{page_done - released:.2f} s after release; REST jobs finished "
        f"{finished['rest-1'] - released:.2f} s and {finished['rest-2'] - released:.2f} s "
        f"after release; most jobs inside the model at once: {slow.most_inside}"
    )
    assert refused_rest[0] == 503 and "busy" in refused_rest[1]["error"].lower()
    assert page_refusal is not None and "full" in page_refusal.lower()
    assert results["rest-1"][0] == results["rest-2"][0] == 200
    assert len(doc["paragraphs"]) == 14 and page_done > released
    assert slow.most_inside == 1  # never two jobs in the model, whatever the door
    assert gate.load() == 0
