"""Agents' decision rules: starting point, levers, China's choice."""

import pytest

from chip4model import Chip4Model, run


def _kor(**kw):
    return Chip4Model(kw.pop("scenario", "kor-aligns"), collect=False, **kw).states["KOR"]


def test_members_start_at_the_status_quo_whatever_the_pact_or_levers():
    base = _kor().alignment
    assert _kor(scenario="kor-aligns-collective").alignment == base
    assert _kor(levers__joint_rnd=1.0, levers__us_clarity=1.0).alignment == base
    assert _kor(countries__KOR__initial_alignment=0.2).alignment == 0.2


def test_korea_starts_least_aligned_of_the_four():
    m = Chip4Model("baseline", collect=False)
    align = {iso: m.states[iso].alignment for iso in ("USA", "KOR", "JPN", "TWN")}
    assert min(align, key=align.get) == "KOR"  # the workshop report: most hesitant, most exposed


@pytest.mark.parametrize("lever", ["contingency_plans", "dialogue"])
def test_levers_shorten_the_allies_response(lever):
    slow = Chip4Model("kor-aligns-collective", collect=False)
    fast = Chip4Model("kor-aligns-collective", collect=False, **{f"levers__{lever}": 1.0})
    for r_slow, r_fast in zip(slow.rules, fast.rules, strict=True):
        if r_slow.delay:
            assert r_fast.effective_delay(fast) < r_slow.effective_delay(slow)


def test_expected_help_raises_the_alignment_a_member_wants():
    alone = _kor()
    helped = _kor(scenario="kor-aligns-collective")
    helped.credibility = alone.credibility = 0.9
    assert helped.desired() > alone.desired()


def test_china_spares_what_it_depends_on_and_prefers_cheap_instruments():
    m = Chip4Model("kor-aligns", collect=False)
    chn = m.china
    ban = chn.evaluate("import_ban", "KOR", exclude_counter=True)
    boycott = chn.evaluate("consumer_boycott", "KOR", exclude_counter=True)
    assert ban[0] < boycott[0]
    # its own cost of an import ban on Korean chips exceeds that of a tourism boycott
    own_ban = chn.losses_of(chn.option_shock("import_ban", "KOR"))[m.cidx("CHN")]
    own_boycott = chn.losses_of(chn.option_shock("consumer_boycott", "KOR"))[m.cidx("CHN")]
    assert own_ban > 10 * own_boycott


def test_resolve_drives_how_long_china_keeps_at_it():
    weeks = [run("kor-aligns", sets=[f"china.resolve={v}"]).summary["retaliation"]["weeks_active"]
             for v in (0.3, 0.6, 0.9)]
    assert weeks[0] <= weeks[1] <= weeks[2]
    assert weeks[2] > 0


def test_china_sees_the_targets_pain_net_of_compensation():
    m = Chip4Model("thaad-2017", collect=False, rules=["compensation_fund"],
                   rules__compensation_fund__delay=0, rules__compensation_fund__credibility=1.0)
    for _ in range(10):
        m.step()
    assert m.weekly_net_loss("KOR") < m.weekly_va_loss("KOR")


def test_the_counter_threat_leaves_out_the_targets_own_exports_and_scales():
    m = Chip4Model("kor-aligns-collective", collect=False)
    cr = next(r for r in m.rules if r.type == "counter_retaliation")
    assert 0 < cr.threat(m, "KOR") < cr.threat(m, None)
    m4 = Chip4Model("kor-aligns-collective", collect=False, china__counter_cost_multiplier=4.0)
    cr4 = next(r for r in m4.rules if r.type == "counter_retaliation")
    assert cr4.threat(m4, "KOR") == pytest.approx(2 * cr.threat(m, "KOR"))
    assert 0 < cr.coverage <= 1


def test_without_rules_nothing_is_deterred():
    weak = run("kor-aligns", sets=["china.resolve=0.0"]).summary
    assert not weak["retaliation"]["started"]
    assert weak["deterred"] is False


def test_us_assurances_lift_the_targets_belief_only_while_it_is_coerced():
    quiet = run("baseline", steps=30).series("credibility", "KOR")
    coerced = run("thaad-2017", steps=10).series("credibility", "KOR")
    assert (quiet == 0.5).all()
    assert coerced[-1] > coerced[0] == 0.5
    none = run("thaad-2017", steps=10, sets=["usa.assurance=0"]).series("credibility", "KOR")
    assert (none == 0.5).all()
