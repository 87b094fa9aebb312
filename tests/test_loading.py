import socket
import subprocess
import sys
import time

import pytest

from khulasa.models import ModelNotFound, load_summarizer, load_translator
from khulasa.models.loading import find, load_seq2seq, resolve


def test_replicas_load_through_the_public_code_with_their_own_special_tokens(replicas):
    tc_big = load_translator(str(replicas["opus-mt-tc-big"]), backend="torch")
    assert type(tc_big.model).__name__ == "MarianMTModel"
    assert type(tc_big.tokenizer).__name__ == "MarianTokenizer"
    vocab = tc_big.tokenizer.get_vocab()
    # tc-big's eos is not 0: the ids must come from the model's config, never assumed.
    assert tc_big.model.config.eos_token_id == vocab["</s>"] != 0
    assert tc_big.model.generation_config.bad_words_ids == [[vocab["<pad>"]]]
    assert tc_big.beams == 4  # from the model's generation config

    opus = load_translator(str(replicas["opus-mt"]), beams=2, backend="torch")
    assert opus.model.config.eos_token_id == 0 and opus.beams == 2

    nllb = load_translator(str(replicas["nllb-600m"]), backend="torch")
    assert type(nllb.model).__name__ == "M2M100ForConditionalGeneration"
    assert type(nllb.tokenizer).__name__ == "NllbTokenizer"

    bart = load_summarizer(str(replicas["distilbart-cnn"]), backend="torch")
    assert type(bart.model).__name__ == "BartForConditionalGeneration"
    assert bart.model.generation_config.min_length == 56


def test_weights_load_once_per_process(replicas):
    a = load_seq2seq(*find(str(replicas["opus-mt"]), "translator"), device="cpu")
    b = load_seq2seq(*find(str(replicas["opus-mt"]), "translator"), device="cpu")
    assert a is b
    # The pipeline factory builds each translator once per process and options.
    one = load_translator(str(replicas["opus-mt"]), beams=2, backend="torch")
    assert load_translator(str(replicas["opus-mt"]), beams=2, backend="torch") is one


def test_missing_preset_names_model_place_and_fix(tmp_path):
    with pytest.raises(ModelNotFound) as err:
        load_translator("opus-mt-tc-big")
    message = str(err.value)
    assert "Helsinki-NLP/opus-mt-tc-big-ar-en" in message
    assert str(tmp_path / "hf-home" / "hub") in message  # where it looked
    assert "khulasa models fetch opus-mt-tc-big" in message
    assert "--translator /path/to/model-dir" in message


def test_missing_relative_path_is_not_taken_for_a_hub_id(tmp_path):
    with pytest.raises(ModelNotFound, match="there is no directory"):
        resolve("./models/opus", "translator")
    empty = tmp_path / "empty-dir"
    empty.mkdir()
    with pytest.raises(ModelNotFound, match="no config.json"):
        load_translator(str(empty))


def test_kind_mismatch_is_named():
    with pytest.raises(ModelNotFound, match="is a summarizer preset"):
        resolve("distilbart-cnn", "translator")


def test_cli_fails_fast_on_missing_weights_without_touching_the_network(cli_env):
    # A loopback "hub" that accepts connections and never answers: any network attempt would
    # hang well past the 2 s bound instead of failing.
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(64)
    env = dict(cli_env)
    env.pop("HF_HUB_OFFLINE")
    env["HF_ENDPOINT"] = f"http://127.0.0.1:{blackhole.getsockname()[1]}"
    try:
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "khulasa.serve", "translate", "-"],
            input="قال كيري".encode(),
            capture_output=True,
            env=env,
            timeout=30,
        )
        elapsed = time.monotonic() - started
    finally:
        blackhole.close()
    err = run.stderr.decode()
    assert run.returncode == 1
    assert elapsed < 2.0, f"took {elapsed:.2f}s"
    assert "khulasa models fetch opus-mt-tc-big" in err
    assert "Traceback" not in err
