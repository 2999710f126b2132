"""`manage.py eval_memory` on a small LoCoMo-format file written by the test."""

import json

import pytest
from django.core.management import CommandError, call_command

from memory.evaluation import _ranked_sources, _Tally
from memory.models import Memory, MemorySpace

pytestmark = pytest.mark.django_db(transaction=True)

CONVERSATION = {
    "id": "tiny-1",
    "speakers": ["Ada", "Tom"],
    "sessions": [
        {
            "session": 1,
            "date_time": "1:56 pm on 8 May, 2023",
            "turns": [
                {"dia_id": "D1:1", "speaker": "Ada", "text": "Hi Tom! How have you been?"},
                {"dia_id": "D1:2", "speaker": "Tom", "text": "I adopted a beagle named Rex."},
                {"dia_id": "D1:3", "speaker": "Ada", "text": "I started pottery on Mondays."},
            ],
        },
        {
            "session": 2,
            "date_time": "10:02 am on 20 June, 2023",
            "turns": [
                {
                    "dia_id": "D2:1",
                    "speaker": "Tom",
                    "text": "Look at this!",
                    "blip_caption": "a photo of a dog on a sandy beach",
                },
                {"dia_id": "D2:2", "speaker": "Ada", "text": "I moved to Lisbon last week."},
            ],
        },
    ],
    "qa": [
        {"question": "What is the name of Tom's dog?", "answer": "Rex", "evidence": ["D1:2"],
         "category": 4},
        {"question": "Where did Ada move?", "answer": "Lisbon", "evidence": ["D2:2"],
         "category": 2},
        {"question": "What did Ada start and where did she move?", "answer": "x",
         "evidence": ["D1:3", "D2:2"], "category": 1},
        {"question": "Unanswerable?", "answer": "Not mentioned", "evidence": [], "category": 5},
    ],
}  # fmt: skip


@pytest.fixture
def locomo_file(tmp_path):
    path = tmp_path / "tiny-locomo.json"
    path.write_text(json.dumps([CONVERSATION]))
    return path


def test_pipeline_scores_the_evidence_and_cleans_up(locomo_file, tmp_path, capsys):
    out = tmp_path / "figures.json"
    call_command("eval_memory", "--data", str(locomo_file), "--k", "1", "5", "--json", str(out))
    figures = json.loads(out.read_text())
    assert figures["questions"] == 3
    assert figures["turns"] == 5
    assert 0 < figures["memories"] <= 5
    assert figures["recall@5"] == 1.0
    assert figures["recall_all@5"] == 1.0 and figures["recall_any@5"] == 1.0
    assert set(figures["per_category"]) == {"multi-hop", "temporal", "single-hop"}
    printed = capsys.readouterr().out
    assert "recall@5" in printed and "overall" in printed
    assert not Memory.objects.exists() and not MemorySpace.objects.exists()


@pytest.mark.parametrize("baseline", ["bm25", "dense"])
def test_baselines_rank_raw_turns(locomo_file, tmp_path, baseline):
    out = tmp_path / "figures.json"
    call_command(
        "eval_memory", "--data", str(locomo_file), "--baseline", baseline, "--json", str(out)
    )
    figures = json.loads(out.read_text())
    assert figures["method"] == baseline
    assert figures["memories"] == 5
    assert figures["recall@10"] == 1.0  # five turns: everything is in the top 10
    assert figures["per_category"]["single-hop"]["recall@5"] == 1.0


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "no such file"),
        ("not json", "not a JSON file"),
        ('{"a": 1}', "expected a JSON list"),
        ('[{"id": "x", "sessions": []}]', "missing or malformed field"),
        (
            '[{"sessions": [{"date_time": "yesterday", "turns": [{"dia_id": "D1:1", '
            '"speaker": "A", "text": "hi"}]}], "qa": []}]',
            "is not like '1:56 pm on 8 May, 2023'",
        ),
    ],
)
def test_bad_files_get_a_clear_error(tmp_path, content, says):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CommandError, match=says):
        call_command("eval_memory", "--data", str(path))


def test_k_must_be_positive(locomo_file):
    with pytest.raises(CommandError, match="positive"):
        call_command("eval_memory", "--data", str(locomo_file), "--k", "0")


def test_a_memory_counts_every_turn_behind_it_within_its_rank():
    # The second memory was made by D2 and said again by D1, already counted at rank 1.
    ranked = _ranked_sources([["D1"], ["D2", "D1"], ["D3", "D4"]])
    assert ranked == [["D1"], ["D2"], ["D3", "D4"]]
    tally = _Tally((1, 2, 3))
    tally.add(4, frozenset({"D2", "D4"}), ranked)
    figures = tally.summary()["overall"]
    assert (figures["recall@1"], figures["recall@2"], figures["recall@3"]) == (0.0, 0.5, 1.0)
