"""Path scoring by question coverage: relation names, question words, the F1 (no model)."""

from __future__ import annotations

import pytest
from sapient.plugins.knowledge_graph.pathscore import (
    PathScorer,
    question_words,
    relation_roles,
    relation_words,
)


@pytest.mark.parametrize("name, words", [
    ("plays_in_club", "plays in club"),
    ("placeOfBirth", "place of birth"),
    ("__people__person__place_of_birth", "place of birth"),
    ("people__person__place_of_birth", "place of birth"),
    ("PLACE_OF_BIRTH", "place of birth"),
    ("people.person.place_of_birth", "place of birth"),
    ("http://dbpedia.org/ontology/birthPlace", "birth place"),
    ("dbo:birthPlace", "birth place"),
    ("place-of-birth", "place of birth"),
    ("HTTPServer", "http server"),
    ("KNOWS", "knows"),
])
def test_relation_words_from_common_styles(name, words):
    assert relation_words(name) == words


def test_relation_roles():
    assert relation_roles("plays_in_club") == (["club"], ["plays"])
    assert relation_roles("place_of_birth") == (["place"], ["birth"])
    assert relation_roles("nationality") == (["nationality"], [])
    assert relation_roles("works_at") == ([], ["works"])  # the object is not named


def _split(question: str, entity: str) -> list[str | None]:
    return [None if t == entity else t for t in question.split()]


def test_question_words_mark_what_is_asked():
    q = question_words(_split("which football club does Ann play for ?", "Ann"))
    assert q.words == ["football", "club", "play"]
    assert q.answer == [True, True, False]
    q = question_words(_split("what is the nationality of Ann 's dad ?", "Ann"))
    assert q.words == ["nationality", "dad"] and q.answer == [True, False]
    q = question_words(_split("where is the club that Ann plays for ?", "Ann"))
    assert q.words[0] == "place location country city" and q.answer[0]
    q = question_words(_split("what is the Ann 's parents 's parents ?", "Ann"))
    assert q.words == ["parents", "parents"] and not any(q.answer)


def test_question_words_keep_prepositions_when_nothing_else_is_left():
    q = question_words(_split("who is from Spain ?", "Spain"))
    assert q.words == ["from"]


def _literal(question: str, entity: str, relations: list[str]):
    words = question_words(_split(question, entity))
    return PathScorer(None).question(words, relations)


def test_coverage_prefers_the_path_that_explains_every_word():
    rels = ["parents", "nationality", "children"]
    scorer = _literal("what is the Ann 's parents 's parents ?", "Ann", rels)
    one = scorer.f1([[("parents", True, 1.0)]])
    two = scorer.f1([[("parents", True, 1.0), ("parents", True, 1.0)]])
    three = scorer.f1([[("parents", True, 1.0)] * 3])
    assert two == pytest.approx(1.0)
    assert one < two and three < two  # too short or too long both lose


def test_answer_words_are_explained_only_by_the_last_hop():
    rels = ["plays_in_club", "is_in_country"]
    scorer = _literal("which club does Ann play for ?", "Ann", rels)
    club = scorer.f1([[("plays_in_club", True, 1.0)]])
    passing_a_club = scorer.f1([[("plays_in_club", True, 1.0), ("is_in_country", True, 1.0)]])
    assert club > passing_a_club


def test_question_words_keep_the_asked_phrase_whole():
    q = question_words(_split("which professional football team do players from Ann play for ?",
                              "Ann"))
    assert q.asked == "professional football team"
    assert question_words(_split("which national team does Ann play for ?", "Ann")).asked \
        == "national team"
    assert question_words(_split("what is the Ann 's parents 's parents ?", "Ann")).asked == ""


def test_a_first_hops_words_for_the_questions_entity_are_explained_by_its_mention():
    rels = ["plays_in_club", "is_in_country"]
    scorer = _literal("who plays for Reds ?", "Reds", rels)
    # "club" of plays_in_club, walked back from the club Reds, is Reds itself
    assert scorer.f1([[("plays_in_club", False, 1.0)]]) == pytest.approx(1.0)
    # but a hop must explain something of the question: is_in_country names only Reds's end
    assert scorer.f1([[("is_in_country", False, 1.0)]]) == 0.0
    # and only the first hop touches the entity
    assert scorer.f1([[("plays_in_club", True, 1.0), ("plays_in_club", False, 1.0)]]) < 0.8


def test_paths_to_one_answer_explain_each_word_once():
    rels = ["plays_in_club", "plays_position"]
    scorer = _literal("which player plays position Forward in club Reds ?", "Reds", rels)
    apart = scorer.f1([[("plays_in_club", False, 1.0)], [("plays_position", False, 1.0)]])
    again = scorer.f1([[("plays_in_club", False, 1.0)],
                       [("plays_position", False, 1.0), ("plays_in_club", True, 1.0),
                        ("plays_in_club", False, 1.0)]])
    assert apart > again


def test_typing_errors_are_corrected_against_a_vocabulary():
    from sapient.plugins.knowledge_graph.pathscore import corrected

    vocabulary = {"football", "team", "player", "payer", "club", "professional"}
    assert corrected("foootball", vocabulary) == "football"  # one deletion
    assert corrected("prefessional", vocabulary) == "professional"  # one replacement
    assert corrected("palyer", vocabulary) == "palyer"  # player or payer: left alone
    assert corrected("Foootball", vocabulary) == "Foootball"  # capitalised: a name
    assert corrected("Zorbax_FC", vocabulary) == "Zorbax_FC"
    assert corrected("clubb", set()) == "clubb"  # no dictionary, no correction
    assert corrected("tem", vocabulary) == "tem"  # too short to tell
