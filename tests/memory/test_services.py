"""Memory services through the real pipeline: MiniLM embeddings, Chroma, the rows."""

from datetime import timedelta

import pytest
from django.utils import timezone

from memory.embeddings import embed_texts
from memory.models import Consolidation, Memory, Portrait
from memory.selectors import memory_space_exists
from memory.services import (
    MEMORY_TEXT_MAX_CHARS,
    MemoryTextRejected,
    memory_consolidate,
    memory_forget,
    memory_forget_all,
    memory_recall,
    memory_reindex,
    memory_space_for,
    memory_text_update,
)
from memory.vectors import chroma_client, collection_delete, vectors_ids
from tests.support.ollama import unused_loopback_url

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user(username="ada", email="ada@example.test")


@pytest.fixture
def eve(django_user_model):
    return django_user_model.objects.create_user(username="eve", email="eve@example.test")


def remember(user, text, message_id=None, days_ago=0):
    return memory_consolidate(
        user=user,
        text=text,
        said_at=NOW - timedelta(days=days_ago),
        source_message_id=message_id,
        speaker=user.username.title(),
    )


def collection_ids(user) -> set[int]:
    return vectors_ids(collection=memory_space_for(user=user).collection)


def test_an_important_message_becomes_a_memory_and_its_vector(ada):
    memory = remember(ada, "I just adopted a dog named Rex last week", message_id=11)
    assert memory is not None
    memory.refresh_from_db()
    assert memory.kind == "relationship"
    assert memory.importance >= 0.5
    assert memory.vector_status == Memory.VectorStatus.SYNCED
    assert memory.embedding_model == "all-MiniLM-L6-v2"
    assert memory.source_message_id == 11
    assert "Ada: I just adopted a dog named Rex last week" in memory.key_text
    assert collection_ids(ada) == {memory.pk}
    assert Consolidation.objects.get(source_message_id=11).outcome == "kept"


def test_small_talk_is_not_kept(ada):
    assert remember(ada, "thanks!", message_id=12) is None
    assert not Memory.objects.exists()
    assert Consolidation.objects.get(source_message_id=12).outcome == "skipped"


def test_consolidating_one_message_twice_adds_nothing(ada):
    first = remember(ada, "My sister Anna lives in Berlin", message_id=13)
    again = remember(ada, "My sister Anna lives in Berlin", message_id=13)
    assert again.pk == first.pk
    assert Memory.objects.count() == 1
    assert Consolidation.objects.count() == 1
    first.refresh_from_db()
    assert first.access_count == 0


def test_a_near_duplicate_reinforces_instead_of_adding(ada):
    first = remember(ada, "My sister Anna lives in Berlin", message_id=14)
    strength = Memory.objects.get(pk=first.pk).strength
    again = remember(ada, "My sister Anna lives in Berlin.", message_id=15)
    assert again.pk == first.pk
    assert Memory.objects.count() == 1
    reinforced = Memory.objects.get(pk=first.pk)
    assert reinforced.access_count == 1
    assert reinforced.strength > strength
    assert Consolidation.objects.get(source_message_id=15).outcome == "reinforced"
    # The message that said it again is one of its sources now, once.
    assert (reinforced.source_message_id, reinforced.source_message_ids) == (14, [15])
    remember(ada, "my sister Anna lives in Berlin!", message_id=16)
    remember(ada, "My sister Anna lives in Berlin", message_id=15)  # a rerun changes nothing
    assert Memory.objects.get(pk=first.pk).source_message_ids == [15, 16]


def test_recall_finds_the_fitting_memory_with_its_reasons_and_reinforces_it(ada):
    cat = remember(ada, "My cat is called Miso and she is 3 years old", days_ago=5)
    remember(ada, "I work as a nurse at the city hospital", days_ago=4)
    remember(ada, "I love hiking in the Alps every summer", days_ago=3)
    before = Memory.objects.get(pk=cat.pk)

    recalled = memory_recall(user=ada, query="What is the name of my cat?", k=2, now=NOW)

    assert recalled[0].id == cat.pk
    assert recalled[0].text == cat.text
    assert {"dense", "lexical", "prior"} <= set(recalled[0].parts)
    assert recalled[0].score > recalled[1].score
    after = Memory.objects.get(pk=cat.pk)
    assert after.access_count == before.access_count + 1
    assert after.last_accessed_at == NOW
    assert after.strength == pytest.approx(before.strength * 1.5)
    assert after.retention(now=NOW) == pytest.approx(1.0)


def test_one_person_never_recalls_anothers_memory(ada, eve):
    mine = remember(ada, "My favourite food is ramen with extra egg")
    theirs = remember(eve, "My favourite food is ramen with extra egg")
    assert mine.pk != theirs.pk
    assert [m.id for m in memory_recall(user=ada, query="favourite food", k=5)] == [mine.pk]
    assert [m.id for m in memory_recall(user=eve, query="favourite food", k=5)] == [theirs.pk]
    assert collection_ids(ada) == {mine.pk} and collection_ids(eve) == {theirs.pk}


def test_forget_deletes_row_and_vector(ada, django_capture_on_commit_callbacks):
    memory = remember(ada, "I am allergic to peanuts")
    with django_capture_on_commit_callbacks(execute=True):
        assert memory_forget(memory_ids=[memory.pk]) == 1
    assert not Memory.objects.exists()
    assert collection_ids(ada) == set()
    assert memory_recall(user=ada, query="peanuts allergy", k=3) == []


def test_deleting_a_memory_any_way_deletes_its_vector(ada, django_capture_on_commit_callbacks):
    memory = remember(ada, "I am allergic to peanuts")
    with django_capture_on_commit_callbacks(execute=True):
        Memory.objects.filter(pk=memory.pk).delete()
    assert collection_ids(ada) == set()


def test_reindex_rebuilds_the_collection_from_rows_alone(ada):
    kept = [remember(ada, text) for text in ("I live in Lisbon", "My brother Tom is a chef")]
    collection_delete(name=memory_space_for(user=ada).collection)
    seen = []
    assert memory_reindex(user=ada, progress=seen.append) == 2
    assert sum(seen) == 2
    assert collection_ids(ada) == {m.pk for m in kept}
    assert set(Memory.objects.values_list("vector_status", flat=True)) == {"synced"}


def test_superseded_memories_are_not_recalled(ada):
    old = remember(ada, "I live in Paris near the river")
    new = remember(ada, "I moved to Berlin last month with my partner")
    Memory.objects.filter(pk=old.pk).update(superseded_by=new, updated_at=timezone.now())
    assert old.pk not in [m.id for m in memory_recall(user=ada, query="where do I live", k=5)]


def test_deleting_a_person_deletes_their_collection(ada, django_capture_on_commit_callbacks):
    remember(ada, "I am allergic to peanuts")
    collection = memory_space_for(user=ada).collection
    with django_capture_on_commit_callbacks(execute=True):
        ada.delete()
    assert not memory_space_exists(name=collection)


def test_reindex_command_rebuilds_and_reports(ada, capsys):
    from django.core.management import CommandError, call_command

    kept = remember(ada, "My brother Tom is a chef in Porto")
    collection_delete(name=memory_space_for(user=ada).collection)
    call_command("reindex", "--user", str(ada.pk))
    assert "Reindexed 1 memories of 1 people." in capsys.readouterr().out
    assert collection_ids(ada) == {kept.pk}
    with pytest.raises(CommandError, match="No user with id 999999"):
        call_command("reindex", "--user", "999999")


def test_the_active_scorers_threshold_decides_what_is_kept(ada, settings):
    settings.PIPO_MEMORY_IMPORTANCE_THRESHOLD = 0.95
    assert remember(ada, "My sister Anna lives in Berlin", message_id=21) is None
    settings.PIPO_MEMORY_IMPORTANCE_THRESHOLD = 0.5
    assert remember(ada, "My sister Anna lives in Berlin", message_id=22) is not None


def stored_vector(user, memory_id: int) -> list[float]:
    collection = chroma_client().get_collection(memory_space_for(user=user).collection)
    found = collection.get(ids=[str(memory_id)], include=["embeddings"])
    return list(found["embeddings"][0])


def test_editing_a_memory_rewrites_its_text_and_its_vector(ada):
    memory = remember(ada, "My sister Anna lives in Berlin", message_id=40)
    before = stored_vector(ada, memory.pk)
    edited = memory_text_update(
        user=ada, memory_id=memory.pk, text="  My sister Anna moved to Rome "
    )
    assert edited.text == "My sister Anna moved to Rome"
    assert edited.vector_status == Memory.VectorStatus.SYNCED
    after = stored_vector(ada, memory.pk)
    assert after != before
    assert after == pytest.approx(embed_texts([edited.key_text])[0].tolist(), abs=1e-5)
    memory.refresh_from_db()
    assert "Ada: My sister Anna moved to Rome" in memory.key_text
    assert [m.id for m in memory_recall(user=ada, query="Rome", k=1)] == [memory.pk]


def test_editing_keeps_the_turn_it_answered(ada):
    memory = memory_consolidate(
        user=ada,
        text="At the city hospital",
        said_at=NOW,
        speaker="Ada",
        context="assistant: Where do you work?",
        keep_all=True,
    )
    edited = memory_text_update(user=ada, memory_id=memory.pk, text="At the children's hospital")
    assert edited.key_text.endswith("\n(in reply to assistant: Where do you work?)")
    assert "Ada: At the children's hospital" in edited.key_text


@pytest.mark.parametrize("text", ["", "  \n\t ", "x" * (MEMORY_TEXT_MAX_CHARS + 1)])
def test_editing_refuses_empty_or_overlong_text(ada, text):
    memory = remember(ada, "My sister Anna lives in Berlin")
    with pytest.raises(MemoryTextRejected) as refused:
        memory_text_update(user=ada, memory_id=memory.pk, text=text)
    assert refused.value.message
    memory.refresh_from_db()
    assert memory.text == "My sister Anna lives in Berlin"


def test_editing_someone_elses_memory_finds_nothing(ada, eve):
    theirs = remember(eve, "My sister Anna lives in Berlin")
    with pytest.raises(Memory.DoesNotExist):
        memory_text_update(user=ada, memory_id=theirs.pk, text="mine now")


def test_editing_with_chroma_down_saves_the_row_and_leaves_the_vector_pending(ada, settings):
    memory = remember(ada, "My sister Anna lives in Berlin")
    settings.CHROMA_URL = unused_loopback_url()
    edited = memory_text_update(user=ada, memory_id=memory.pk, text="My sister Anna lives in Rome")
    assert edited.vector_status == Memory.VectorStatus.PENDING
    memory.refresh_from_db()
    assert memory.text == "My sister Anna lives in Rome"
    assert memory.vector_status == Memory.VectorStatus.PENDING


def test_forgetting_everything_leaves_no_rows_and_no_vectors(
    ada, eve, django_capture_on_commit_callbacks
):
    for i, text in enumerate(["My sister Anna lives in Berlin", "I am allergic to peanuts"]):
        remember(ada, text, message_id=50 + i)
    kept = remember(eve, "My brother Tom is a chef in Porto")
    Portrait.objects.create(user=ada, text="Ada has a sister in Berlin.")
    assert len(collection_ids(ada)) == 2

    with django_capture_on_commit_callbacks(execute=True):
        assert memory_forget_all(user=ada) == 2

    assert not Memory.objects.filter(user=ada).exists()
    assert collection_ids(ada) == set()
    assert not Portrait.objects.filter(user=ada).exists()
    assert memory_recall(user=ada, query="Anna Berlin", k=3) == []
    assert collection_ids(eve) == {kept.pk}
    # The messages stay consolidated: the sweep does not bring the forgotten back.
    assert Consolidation.objects.filter(user=ada).count() == 2
