"""The simulated site: reproducible visits, engine-ready contexts, known and realistic CTRs."""

from __future__ import annotations

import math
import statistics

import pytest

import edge
from edge.features import context_tokens
from sync_server.demo.simulation import Archetype, Item, Site


@pytest.fixture(scope="module")
def visits():
    return list(Site.default().visits(3000, seed=5))


def test_the_same_seed_gives_the_same_visits_and_clicks():
    site = Site.default()
    first, second = list(site.visits(50, seed=3)), list(site.visits(50, seed=3))
    assert first == second
    assert [v.context for v in site.visits(50, seed=4)] != [v.context for v in first]


def test_contexts_are_in_the_engines_format(visits):
    engine = edge.Personalizer()
    for visit in visits[:20]:
        context_tokens(visit.context)  # raises on anything the engine would refuse
        engine.decide("hero", Site.default().candidates(), visit.context, at=0)


def test_click_rates_are_realistic(visits):
    random_ctr = statistics.mean(statistics.mean(v.ctr.values()) for v in visits)
    best_ctr = statistics.mean(v.best_ctr for v in visits)
    assert 0.01 <= random_ctr <= 0.05
    assert 0.01 <= best_ctr <= 0.05
    assert best_ctr > 2 * random_ctr  # context is worth learning


def test_the_best_item_depends_on_the_context(visits):
    best_item = {max(v.ctr, key=v.ctr.get) for v in visits}
    assert len(best_item) >= 4


def test_clicks_follow_the_stated_probabilities(visits):
    shown = "item00"
    clicks = sum(v.click(shown) for v in visits)
    expected = sum(v.ctr[shown] for v in visits)
    assert abs(clicks - expected) < 4 * expected**0.5  # within four standard deviations


def test_regret_is_zero_for_the_best_item_and_positive_otherwise(visits):
    visit = visits[0]
    ranked = sorted(visit.ctr, key=visit.ctr.get, reverse=True)
    assert visit.regret(ranked[0]) == 0.0
    assert visit.regret(ranked[-1]) == pytest.approx(visit.ctr[ranked[0]] - visit.ctr[ranked[-1]])


def test_an_unknown_item_is_named_in_the_error(visits):
    with pytest.raises(KeyError, match="'nope' is not on this site"):
        visits[0].click("nope")


def test_ctr_given_context_mixes_the_archetypes_that_could_have_produced_it():
    like_news = Archetype("reader", 1.0, {"mobile": 1}, (8,), 0.0, {"direct": 1}, {"home": 1},
                          (), {"topic:news": 2.0})
    like_sports = Archetype("fan", 1.0, {"mobile": 1, "desktop": 1}, (8,), 0.0, {"direct": 1}, {"home": 1},
                            (), {"topic:sports": 2.0})
    site = Site([Item("n", ("topic:news",)), Item("s", ("topic:sports",))], [like_news, like_sports], base_ctr=0.01)
    desktop = {"device": "desktop", "hour": 8, "weekday": 2, "referrer": "direct", "page": "home", "interests": []}
    mobile = {**desktop, "device": "mobile"}
    liked = 1 / (1 + math.exp(-(math.log(0.01 / 0.99) + 2.0)))
    assert site.ctr(desktop) == pytest.approx({"n": 0.01, "s": liked})  # only the fan uses a desktop
    # On mobile a reader is twice as likely as a fan (the fan splits between two devices).
    assert site.ctr(mobile) == pytest.approx({"n": 2 / 3 * liked + 1 / 3 * 0.01, "s": 1 / 3 * liked + 2 / 3 * 0.01})


def test_a_context_no_archetype_produces_is_refused():
    site = Site.default()
    with pytest.raises(ValueError, match="no archetype"):
        site.ctr({"device": "fridge", "hour": 8, "weekday": 2, "referrer": "direct", "page": "home", "interests": []})
    with pytest.raises(ValueError, match=r"context lacks \['interests', 'page'\]"):
        site.ctr({"device": "mobile", "hour": 8, "weekday": 2, "referrer": "direct"})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"items": []}, "at least one item"),
        ({"items": [Item("a", ()), Item("a", ())]}, "unique"),
        ({"base_ctr": 1.5}, "base_ctr"),
        ({"archetypes": Site.default().archetypes[:1] * 2}, "archetype names"),
    ],
)
def test_a_malformed_site_is_refused(kwargs, message):
    arguments = {"items": [Item("a", ())], "archetypes": Site.default().archetypes, **kwargs}
    with pytest.raises(ValueError, match=message):
        Site(**arguments)


def test_a_visitor_keeps_one_archetype_and_clicks_by_its_own_tastes():
    site = Site.default()
    visits = site.visitor(400, seed=2)
    assert len({v.archetype for v in visits}) == 1 and site.visitor(400, seed=2) == visits
    fan = next(s for s in range(100) if site.visitor(1, seed=s)[0].archetype == "sports_fan")
    context = site.visitor(1, seed=fan)[0].context
    own, mixed = site.visitor(1, seed=fan)[0].ctr, site.ctr(context)
    sports = [item.id for item in site.items if "topic:sports" in item.features]
    assert all(own[i] >= mixed[i] for i in sports)  # more than a visitor of unknown archetype
    clicks = sum(v.click("item01") for v in visits)
    expected = sum(v.ctr["item01"] for v in visits)
    assert abs(clicks - expected) < 4 * expected**0.5 + 1
