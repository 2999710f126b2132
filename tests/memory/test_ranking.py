"""The ranking pieces on their own: tokenizer, BM25 index, fusion, memory keys."""

from memory.ranking import LexicalIndex, fuse, memory_key_text, tokenize


def test_tokenize_drops_stopwords_and_question_words_keeps_names_and_numbers():
    tokens = tokenize("What did Caroline's 3 dogs do in 2023?")
    assert "what" not in tokens and "did" not in tokens
    assert "2023" in tokens and "3" in tokens
    assert tokenize("Caroline") == tokenize("caroline") == [tokens[0]]
    assert tokenize("dogs") == tokenize("dog")


def test_lexical_index_ranks_by_bm25_and_updates_incrementally():
    index = LexicalIndex([(1, "I adopted a puppy named Rex"), (2, "I work as a nurse")])
    assert [i for i, _ in index.scores("puppy Rex", 5)] == [1]
    index.add(3, "Rex the puppy loves the beach; Rex is a puppy")
    assert index.scores("puppy Rex", 5)[0][0] == 3
    index.remove(3)
    assert [i for i, _ in index.scores("puppy Rex", 5)] == [1]
    rebuilt = LexicalIndex([(1, "I adopted a puppy named Rex"), (2, "I work as a nurse")])
    assert index.scores("nurse work", 5) == rebuilt.scores("nurse work", 5)


def test_fuse_blends_both_lists_prior_and_neighbours_with_reasons():
    ranked = fuse(
        dense=[(1, 0.9), (2, 0.5), (3, 0.4)],
        lexical=[(2, 10.0), (4, 5.0)],
        prior={3: 0.05},
        neighbours={4: [2]},
        k=3,
    )
    ids = [i for i, _, _ in ranked]
    assert ids[0] == 2  # strong in both lists
    assert len(ranked) == 3
    parts = dict((i, p) for i, _, p in ranked)
    assert {"dense", "lexical", "prior"} <= set(parts[2])
    scores = [s for _, s, _ in ranked]
    assert scores == sorted(scores, reverse=True)
    alone = fuse(dense=[], lexical=[(2, 10.0), (4, 5.0)], k=2)
    with_neighbour = fuse(dense=[], lexical=[(2, 10.0), (4, 5.0)], neighbours={4: [2]}, k=2)
    assert dict((i, s) for i, s, _ in with_neighbour)[4] > dict((i, s) for i, s, _ in alone)[4]


def test_memory_key_carries_speaker_date_caption_and_context():
    key = memory_key_text(
        speaker="Ada",
        text="Adoption agencies.",
        said_at="8 May 2023",
        caption="a dog on a beach",
        context="Tom: What did you research?",
    )
    assert key.startswith("[8 May 2023] Ada: Adoption agencies.")
    assert "a dog on a beach" in key
    assert "What did you research?" in key
