"""The command-line contracts of DESIGN.md that need no running pipeline."""

from __future__ import annotations

import json
from pathlib import Path

from factories import run_veille

from veille.watch import compile_rules, load_watch


def test_enrich_answers_one_object_per_line_in_order(tmp_path: Path) -> None:
    texts = [
        "@orbital_care toujours pas de réseau depuis hier, c'est inadmissible",
        "Thanks @orbital_care, the technician was great!",
        '{"text": "¿Cómo cambio mi tarifa de Nimbus?", "lang": "es"}',
        "",
        "🙂🙂",
        "Wie kann ich bei Zephyr kündigen?",
    ]
    f = tmp_path / "texts.txt"
    f.write_text("\n".join(texts) + "\n", encoding="utf-8")
    proc = run_veille("enrich", str(f))
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == len(texts)
    for o in out:
        assert {"lang", "sentiment", "sentiment_score", "topics", "intent"} <= set(o)
        assert o["sentiment"] in ("negative", "neutral", "positive")
        assert -1 <= o["sentiment_score"] <= 1
    assert out[0]["text"] == texts[0] and out[2]["text"] == "¿Cómo cambio mi tarifa de Nimbus?"
    assert [o["lang"] for o in out] == ["fr", "en", "es", "und", "und", "de"]
    assert out[0]["sentiment"] == "negative" and out[0]["intent"] == "complaint"
    assert out[0]["topics"] == ["outage"] and out[0]["entries"] == ["Orbital Telecom"]
    assert out[1]["sentiment"] == "positive" and out[1]["intent"] == "praise"
    assert out[2]["intent"] == "question" and out[2]["entries"] == ["Nimbus Télécom"]
    assert out[5]["entries"] == ["Zephyr Net"]

    piped = run_veille("enrich", stdin="Orbital est top\n")
    assert piped.returncode == 0 and json.loads(piped.stdout)["sentiment"] == "positive"


def test_enrich_takes_hostile_lines_as_text_without_a_traceback() -> None:
    """A JSON nested beyond Python's recursion limit and fields of the wrong type used to crash
    `veille enrich` (RecursionError, AttributeError) and lose the output of the whole input."""
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    lines = ['{"text": 5}', '{"text": "Orbital est en panne", "lang": 5}', deep, "Orbital top"]
    proc = run_veille("enrich", stdin="\n".join(lines) + "\n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["text"] for o in out] == ['{"text": 5}', "Orbital est en panne", deep, "Orbital top"]
    assert out[1]["lang"] == "fr" and out[1]["entries"] == ["Orbital Telecom"]


def test_rules_json_matches_the_compiler() -> None:
    proc = run_veille("rules", "--json")
    assert proc.returncode == 0, proc.stderr
    rules = json.loads(proc.stdout)
    compiled = compile_rules(load_watch())
    assert [{"value": r["value"], "tag": r["tag"]} for r in rules] == [
        {"value": r.value, "tag": r.tag} for r in compiled
    ]
    kinds = {(r["tag"].split(":")[0], r["kind"], r["sample"]) for r in rules}
    assert ("brand", "entry", 100) in kinds and ("sector", "sector", 10) in kinds
    assert not any(r["tag"].startswith("topic:") for r in rules)


def test_clear_errors() -> None:
    bad = run_veille("query", "no_such_query", "--data-dir", "/nonexistent")
    assert bad.returncode != 0 and "no query named" in bad.stderr
    alone = run_veille("ingest", "--source", "synthetic", "--count", "1")
    assert alone.returncode != 0 and "KAFKA_BOOTSTRAP_SERVERS" in alone.stderr
    replay = run_veille("up", "--source", "replay")
    assert replay.returncode != 0 and "--input" in replay.stderr
    nodata = run_veille("query", "recent_posts", "--data-dir", "/nonexistent")
    assert nodata.returncode != 0 and "veille up" in nodata.stderr


def test_every_command_has_an_example() -> None:
    for cmd in (
        ["up"],
        ["ingest"],
        ["process"],
        ["sink"],
        ["query"],
        ["rules"],
        ["enrich"],
        ["db", "migrate"],
        ["train", "sentiment"],
        ["rules", "sync"],
        ["backfill"],
        ["usage"],
        ["compliance"],
        ["report"],
        ["bench", "enrich"],
        ["eval", "sentiment"],
        ["eval", "language"],
        ["bench", "e2e"],
    ):
        proc = run_veille(*cmd, "--help")
        assert proc.returncode == 0 and "Example:" in proc.stdout, cmd


def test_eval_language_scores_each_language_of_a_split(tmp_path: Path) -> None:
    tweets = {
        "english": ["The delivery was late again and nobody answered my emails", "Good morning"],
        "french": ["Le service client ne répond jamais, c'est vraiment pénible", "Merci beaucoup"],
    }
    for folder, texts in tweets.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "val_text.txt").write_text("\n".join(texts), encoding="utf-8")
        (tmp_path / folder / "val_labels.txt").write_text("0\n2", encoding="utf-8")
    proc = run_veille("eval", "language", "--data", str(tmp_path), "--languages", "", "--json")
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(proc.stdout.splitlines()[-1])
    assert scores["en"] == 100.0 and scores["fr"] == 100.0 and scores["mean"] == 100.0
    assert scores["preferred"] == [] and scores["posts_per_s"] > 0
    watched = run_veille("eval", "language", "--data", str(tmp_path), "--json")
    assert json.loads(watched.stdout.splitlines()[-1])["preferred"] == ["fr", "en", "es", "de"]
    missing = run_veille("eval", "language", "--data", str(tmp_path / "absent"))
    assert missing.returncode == 1
    message = " ".join(missing.stderr.split())
    assert f"no XLM-T data at {tmp_path / 'absent'} (from --data)" in message


def _xlmt(root: Path) -> Path:
    """A two-language XLM-T folder in the layout of cardiffnlp/xlm-t's data/sentiment."""
    tweets = {
        "english": (["I love it, thank you!", "This is the worst, I hate it"], [2, 0]),
        "spanish": (["Me encanta, muchas gracias", "El servicio es horrible"], [2, 0]),
    }
    for folder, (texts, labels) in tweets.items():
        for split in ("train", "val"):
            (root / folder).mkdir(parents=True, exist_ok=True)
            (root / folder / f"{split}_text.txt").write_text("\n".join(texts) + "\n")
            (root / folder / f"{split}_labels.txt").write_text(" ".join(map(str, labels)))
    return root


def test_eval_sentiment_reads_the_data_folder_it_is_given(tmp_path: Path) -> None:
    data = _xlmt(tmp_path / "xlmt")
    proc = run_veille("eval", "sentiment", "--data", str(data), "--json")
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout.splitlines()[-1])) == {"en", "es", "mean"}
    from_env = run_veille("eval", "sentiment", "--json", env={"VEILLE_XLMT_DIR": str(data)})
    assert from_env.stdout == proc.stdout


def test_missing_data_names_the_flag(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for cmd in (
        ["eval", "sentiment"],
        ["eval", "language", "--languages", ""],
        ["train", "sentiment"],
    ):
        proc = run_veille(*cmd, "--data", str(tmp_path / "empty"))
        assert proc.returncode == 1, (cmd, proc.stderr)
        message = " ".join(proc.stderr.split())
        assert f"no XLM-T data at {tmp_path / 'empty'} (from --data)" in message, cmd
        assert "pass --data DIR" in message and "cardiffnlp/xlm-t" in message
    unset = run_veille("eval", "sentiment", env={"VEILLE_XLMT_DIR": str(tmp_path / "absent")})
    assert unset.returncode == 1 and "(no --data given)" in " ".join(unset.stderr.split())


def test_each_stage_says_in_one_line_that_kafka_is_out_of_reach(tmp_path: Path) -> None:
    """Before: `veille process` printed Faust's 37-line traceback, ingest and sink ~590 raw
    librdkafka lines before their error."""
    from concurrent.futures import ThreadPoolExecutor

    env = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", "KAFKA_STARTUP_WAIT_S": "2"}
    commands = [
        ("ingest", "--source", "synthetic", "--count", "10"),
        ("process", "--data-dir", str(tmp_path / "p")),
        ("sink", "--data-dir", str(tmp_path / "s")),
    ]
    with ThreadPoolExecutor(len(commands)) as pool:
        done = list(pool.map(lambda a: run_veille(*a, env=env, timeout=120), commands))
    for args, proc in zip(commands, done, strict=True):
        assert proc.returncode == 1, (args, proc.stderr[-2000:])
        assert "Kafka at 127.0.0.1:9 is not reachable" in proc.stderr.replace("\n", "")
        assert len(proc.stderr.splitlines()) <= 5 and "Traceback" not in proc.stderr, args
