"""Slot policies: one interface, their exploration, their precisions and their state."""

from __future__ import annotations

import json
import math
import random
from statistics import NormalDist

import pytest
from river import linear_model as river_linear_model
from river import optim as river_optim

from edge import linear_model, optim, policies

OLD, NEW = {"variant:old": 1.0, "topic:news": 1.0}, {"variant:new": 1.0, "topic:news": 0.5}
CANDIDATES = {"old": OLD, "new": NEW}
MADE = {
    "greedy": lambda: policies.Greedy(),
    "epsilon-greedy": lambda: policies.EpsilonGreedy(epsilon=0.3),
    "thompson": lambda: policies.ThompsonSampling(prior_precision=2.0),
    "lin-ucb": lambda: policies.LinUCB(alpha=0.5, prior_precision=2.0),
}


@pytest.fixture(params=["builtin", "river"])
def learner(request):
    """A model that has seen the old candidate clicked two times in three."""
    if request.param == "builtin":
        model = linear_model.LogisticRegression(optimizer=optim.SGD(0.1))
    else:
        model = river_linear_model.LogisticRegression(optimizer=river_optim.SGD(0.1))
    for i in range(60):
        model.learn_one(OLD, i % 3 != 0)
    return model


def test_the_registry_names_every_policy():
    assert sorted(policies.BY_NAME) == sorted(MADE)
    assert all(MADE[name]().name == name for name in MADE)


@pytest.mark.parametrize("name", MADE)
def test_every_policy_ranks_all_candidates_and_pulls_the_first(name, learner):
    policy = MADE[name]()
    ranking = policy.rank(CANDIDATES, learner, random.Random(4))
    assert sorted(ranking.arms) == ["new", "old"]
    assert ranking.probabilities["old"] == pytest.approx(learner.predict_proba_one(OLD)[True], abs=1e-12)
    assert policy.pull(CANDIDATES, learner, random.Random(4)) == ranking.arms[0]


@pytest.mark.parametrize("name", MADE)
def test_every_policy_ranks_by_finite_scores_it_gives_with_the_ranking(name, learner):
    """Editor rules re-rank by these scores, adding boosts; without any, the order must not change."""
    policy, rng = MADE[name](), random.Random(5)
    for _ in range(200):
        ranking = policy.rank(CANDIDATES, learner, rng)
        assert all(math.isfinite(score) for score in ranking.scores.values())
        assert ranking.arms == sorted(CANDIDATES, key=lambda arm: -ranking.scores[arm])


@pytest.mark.parametrize("name", MADE)
def test_every_policy_is_reproducible_from_its_random_generator(name, learner):
    policy = MADE[name]()
    draws = [[policy.pull(CANDIDATES, learner, rng) for _ in range(50)] for rng in (random.Random(9), random.Random(9))]
    assert draws[0] == draws[1]


def test_greedy_ranks_by_the_estimate_and_keeps_the_page_order_on_ties(learner):
    assert policies.Greedy().rank(CANDIDATES, learner, random.Random(0)).arms == ["old", "new"]
    twins = {"b": {"variant:b": 1.0}, "a": {"variant:a": 1.0}}
    assert policies.Greedy().rank(twins, learner, random.Random(0)).arms == ["b", "a"]


def test_epsilon_greedy_puts_a_random_candidate_first_epsilon_of_the_time(learner):
    rng = random.Random(2)
    firsts = [policies.EpsilonGreedy(epsilon=0.3).pull(CANDIDATES, learner, rng) for _ in range(4000)]
    assert firsts.count("new") / 4000 == pytest.approx(0.3 / 2, abs=0.02)


def test_thompson_precision_grows_by_the_logistic_curvature():
    policy = policies.ThompsonSampling(prior_precision=3.0)
    policy.update({1: 2.0, 2: 1.0}, p=0.2)
    policy.update({1: 1.0}, p=0.5)
    assert policy.precisions == {1: 3.0 + 4 * 0.16 + 0.25, 2: 3.0 + 0.16}
    # The logit's variance is the x²-weighted mean of its weights' variances (here 1 and 4 parts).
    assert policy.variance({1: 1.0, 3: 2.0}) == pytest.approx((1 / policy.precisions[1] + 4 / 3.0) / 5)
    assert policy.variance({3: 1.0}) == pytest.approx(1 / 3.0) == policy.variance({3: 1.0, 4: 1.0})


def test_lin_ucb_precision_counts_squared_features_whatever_the_prediction():
    policy = policies.LinUCB(prior_precision=1.0)
    policy.update({1: 2.0}, p=0.01)
    policy.update({1: 1.0}, p=0.99)
    assert policy.precisions == {1: 1.0 + 4.0 + 1.0}


def test_thompson_puts_an_arm_first_as_often_as_its_posterior_says(learner):
    """Each arm's logit is drawn from N(m · x, Σ x² / q); P(new first) follows from the two normals."""
    policy = policies.ThompsonSampling(prior_precision=2.0)
    for _ in range(40):
        policy.update(OLD, 0.6)
    logit = {arm: math.log(p / (1 - p)) for arm, p in policy.rank(CANDIDATES, learner, random.Random(0)).probabilities.items()}
    gap = NormalDist(logit["new"] - logit["old"], math.sqrt(policy.variance(NEW) + policy.variance(OLD)))
    expected = 1 - gap.cdf(0.0)
    rng = random.Random(11)
    observed = sum(policy.pull(CANDIDATES, learner, rng) == "new" for _ in range(4000)) / 4000
    assert 0.05 < expected < 0.95
    assert observed == pytest.approx(expected, abs=3 * math.sqrt(expected * (1 - expected) / 4000))


def test_lin_ucb_adds_alpha_standard_deviations_to_the_estimate(learner):
    policy = policies.LinUCB(alpha=2.0, prior_precision=4.0)
    bound = {arm: math.log(p / (1 - p)) + 2.0 * math.sqrt(policy.variance(CANDIDATES[arm]))
             for arm, p in policy.rank(CANDIDATES, learner, random.Random(0)).probabilities.items()}
    assert policy.rank(CANDIDATES, learner, random.Random(0)).arms == sorted(bound, key=bound.get, reverse=True)


@pytest.mark.parametrize("name", MADE)
def test_state_round_trips_through_json_exactly(name):
    policy = MADE[name]()
    policy.update({12: 1.0, 40: 0.5}, 0.3)
    state = json.loads(json.dumps(policy.to_dict()))
    restored = policies.from_dict(state)
    assert type(restored) is type(policy) and restored.to_dict() == policy.to_dict() == state


def test_an_unknown_policy_in_state_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown policy in state: 'softmax'"):
        policies.from_dict({"name": "softmax"})


@pytest.mark.parametrize("make, problem", [
    (lambda: policies.EpsilonGreedy(epsilon=1.5), "epsilon must be between 0 and 1"),
    (lambda: policies.ThompsonSampling(prior_precision=0.0), "prior_precision must be a positive number"),
    (lambda: policies.ThompsonSampling(prior_precision=math.nan), "prior_precision must be a positive number"),
    (lambda: policies.LinUCB(alpha=-1.0), "alpha must be a non-negative number"),
])
def test_bad_parameters_are_refused(make, problem):
    with pytest.raises(ValueError, match=problem):
        make()
