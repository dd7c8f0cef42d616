"""Feature names become short sentences a visitor reads, in words a site can change."""

from __future__ import annotations

import copy

import pytest

from edge import explain
from edge.explain import Explainer
from edge.features import context_tokens, crossed_names
from edge.profile import Profile

SENTENCES = [
    ("interest:hiking & topic:hiking", "You told us you like hiking"),
    ("likes:topic:hiking & topic:hiking", "You often look at hiking"),
    ("loves:topic:hiking & price:low", "You look at hiking a lot"),
    ("session:topic:trail_running & topic:hiking", "You were just looking at trail running"),
    ("segment:outdoor-fans & topic:hiking", "Picked for outdoor fans"),
    ("device:mobile & topic:sports", "Popular with visitors on mobile"),
    ("daypart:evening & price:low", "Popular in the evening"),
    ("daypart:night & price:low", "Popular at night"),
    ("weekday:sat & topic:news", "Popular on Saturdays"),
    ("weekend & topic:news", "Popular at the weekend"),
    ("weekday & topic:news", "Popular on weekdays"),
    ("referrer:search & topic:news", "Popular with visitors coming from search"),
    ("page:article & topic:news", "Popular on article pages"),
    ("topic:hiking", "Popular with other visitors"),
    ("variant:picks/bottle", "Popular with other visitors"),
    ("region:north & topic:hiking", "Popular with visitors like you"),
]


@pytest.mark.parametrize("name, sentence", SENTENCES)
def test_a_feature_name_reads_as_a_sentence(name, sentence):
    assert Explainer().sentence(name) == sentence


def test_every_context_the_engine_knows_has_its_own_sentence():
    context = {"device": "tablet", "hour": 7, "weekday": 3, "referrer": "social", "page": "home", "interests": ["golf"]}
    generic = {explain.TEMPLATES["popular"], explain.TEMPLATES["similar"]}
    for name in crossed_names(context_tokens(context), ["topic:golf"])[1:]:
        assert Explainer().sentence(name) not in generic, name


def test_every_profile_token_has_its_own_sentence():
    profile = Profile()
    profile.declare(["golf"])
    for _ in range(4):
        profile.click(["topic:golf"], at=0)
    tokens = profile.tokens(at=0)
    assert {token.partition(":")[0] for token in tokens} == {"interest", "session", "likes", "loves"}
    for name in crossed_names(tokens, ["topic:golf"])[1:]:
        assert "golf" in Explainer().sentence(name), name


def test_reasons_are_said_once_in_order_up_to_a_limit():
    names = ["device:mobile & topic:sports", "device:mobile & price:low", "topic:sports",
             "variant:picks/ball", "daypart:evening & topic:sports"]
    explainer = Explainer()
    assert explainer.explain(names) == [
        "Popular with visitors on mobile", "Popular with other visitors", "Popular in the evening"]
    assert explainer.explain(names, limit=2) == ["Popular with visitors on mobile", "Popular with other visitors"]
    assert explainer.explain([]) == []


def test_a_site_overrides_templates_and_words_one_by_one():
    explainer = Explainer(
        templates={"device:*": "Souvent choisi sur {value}", "device:desktop": "Favori des ordinateurs"},
        words={"mobile": "mobile (téléphone)", "price:low": "bargains"},
    )
    assert explainer.sentence("device:mobile & topic:x") == "Souvent choisi sur mobile (téléphone)"
    assert explainer.sentence("device:desktop & topic:x") == "Favori des ordinateurs"
    assert explainer.sentence("likes:price:low & topic:x") == "You often look at bargains"
    assert explainer.sentence("weekday:sun & topic:x") == "Popular on Sundays"


def test_a_site_can_explain_a_candidate_feature_of_its_own():
    explainer = Explainer(templates={"brand:*": "From {value}, a brand many visitors pick"})
    assert explainer.sentence("brand:acme_outdoor") == "From acme outdoor, a brand many visitors pick"
    assert explainer.sentence("device:mobile & brand:acme") == "Popular with visitors on mobile"


BAD_EXPLAINERS = [
    ({"device:*": "On {device}"}, None, "template 'device:*' may only use {value}, got ['device']"),
    ({"device:*": "On {}"}, None, "template 'device:*' may only use {value}"),
    ({"device:*": "On {value"}, None, "template 'device:*' is malformed"),
    ({"device:*": ""}, None, "template 'device:*' must be a non-empty string"),
    ({"": "On {value}"}, None, "template keys must be non-empty strings"),
    (None, {"sat": 6}, "words must map strings to non-empty strings"),
]


@pytest.mark.parametrize("templates, words, problem", BAD_EXPLAINERS, ids=[b[2] for b in BAD_EXPLAINERS])
def test_bad_templates_and_words_are_refused_and_change_nothing(templates, words, problem):
    defaults = copy.deepcopy((explain.TEMPLATES, explain.WORDS))
    with pytest.raises(ValueError) as error:
        Explainer(templates, words)
    assert problem in str(error.value)
    assert defaults == (explain.TEMPLATES, explain.WORDS)


@pytest.mark.parametrize("name", ["", None, 3])
def test_a_bad_feature_name_is_refused(name):
    with pytest.raises(ValueError, match="a feature name must be a non-empty string"):
        Explainer().sentence(name)
