"""The admin pages' HTML, built from the dashboard's data (see dashboard.py).

Charts are empty boxes here; admin.js fills them from `/v1/admin/sites/{site}/dashboard`
with uPlot. Every figure is also in a table, which is what a screen reader gets.
"""

from __future__ import annotations

import datetime
import json
from html import escape

from sync_server.admin.markup import csrf_field, notice, number, table
from sync_server.admin.sessions import AdminSession
from sync_server.catalog import FETCH_SECONDS
from sync_server.catalog import MAX_BYTES as CATALOG_BYTES
from sync_server.sites import DEFAULT_HASH_BITS

FEDERATION_FIELDS = {  # field: (label, help)
    "clip_norm": ("Clip norm C", "each device's update is clipped to this L2 norm"),
    "noise_multiplier": ("Noise multiplier σ", "Gaussian noise of std σ·C on each round's sum; 0 gives no privacy"),
    "min_devices": ("Minimum devices per round", "a round never closes with fewer"),
    "target_devices": ("Target devices per round", "a round closes as soon as this many took part"),
    "epsilon_budget": ("ε budget", "per visitor and 365 days: rounds pause before ε would pass it; blank: no budget"),
    "device_rounds_per_year": ("Rounds per device a year", "k: a device joins at most this many rounds in any 365 days"),
}


def overview(sites: list[dict], session: AdminSession, error: str | None, submitted: dict[str, str]) -> str:
    """A card per site (its model, privacy spent and whether it personalizes), and a form to add one."""
    cards = "".join(_site_card(site) for site in sites)
    listing = f'<div class="cards">{cards}</div>' if sites else '<p class="empty">No sites yet.</p>'

    def value(name: str, default: str = "") -> str:
        return escape(submitted.get(name, default))

    form = f"""<section><h2>Add a site</h2><form method="post" action="/admin/sites" class="grid">{csrf_field(session)}
{notice(error, "error") if error else ""}
<label>Site key <input name="site" value="{value("site")}" required pattern="[A-Za-z0-9_\\-]{{1,64}}">
<small>public: it goes in your pages' <code>data-site</code></small></label>
<label>Hash bits <input name="hash_bits" value="{value("hash_bits", str(DEFAULT_HASH_BITS))}" inputmode="numeric">
<small>the model has 2^bits weights, every one noised each round and part of each download: the default suits most sites</small></label>
<label class="wide">Allowed origins <textarea name="origins" rows="2" spellcheck="false">{value("origins")}</textarea>
<small>one a line, e.g. https://shop.example; none: only this server's own pages</small></label>
<button>Add site</button></form></section>"""
    return f"<h1>Sites</h1>{listing}{form}"


def _site_card(site: dict) -> str:
    last = site["rounds"][-1] if site["rounds"] else None
    status = '<span class="badge off">kill switch on</span>' if site["killed"] else '<span class="badge on">personalizing</span>'
    return f"""<a class="card" href="/admin/sites/{escape(site['site'])}"><h2>{escape(site['site'])} {status}</h2>
<dl><dt>model version</dt><dd>{site['version']}</dd>
<dt>devices in the last round</dt><dd>{number(last and last['devices'])}</dd>
<dt>ε spent</dt><dd>{_epsilon(site)}</dd><dt>updates waiting</dt><dd>{number(site['pending_updates'])}</dd></dl></a>"""


def site_page(data: dict, rules_version: int, rules: dict, origins: list[str], audit: list[dict],
              session: AdminSession, errors: dict[str, str], submitted: dict[str, str], saved: str | None) -> str:
    site = escape(data["site"])
    header = f"""<nav class="crumbs"><a href="/admin">Sites</a> / {site}</nav><h1>{site}</h1>
{notice(saved) if saved else ""}
<div class="stats">{_stat("model version", data["version"])}{_stat("closed rounds", len(data["rounds"]))}
{_stat("updates waiting", data["pending_updates"])}{_stat("ε spent", _epsilon(data))}
{_stat("personalization", "stopped" if rules.get("kill_switch") else "on")}</div>{_budget_bar(data)}"""
    return (header + _waiting_section(data) + _model_section(data) + _effect_section(data)
            + _controls(data, rules_version, rules, session, errors, submitted)
            + _catalog_section(data, session, errors, submitted)
            + _origins_section(data["site"], origins, session, errors, submitted)
            + _danger_section(data["site"], session, errors) + _audit_section(audit))


def _waiting_section(data: dict) -> str:
    """What the next round waits for, in words: before the first round this is all there is to see."""
    w = data["waiting"]
    opted = (f"{number(w['improve_visitors'])} of {number(w['visitors'])} visitors who answered the consent prompt "
             f"({100 * w['improve_visitors'] / w['visitors']:.0f}%) opted in to <em>improve</em>"
             if w["visitors"] else "no visitor has answered the consent prompt yet")
    deadline = "" if w["opened_at"] is None else (
        f", or at {_when(w['opened_at'] + w['round_seconds'])} if {number(w['min_devices'])} have come by then")
    first = "" if data["rounds"] else (
        "<p>Nothing to chart yet: the model, its weights and the effect of personalization appear when the first "
        "round closes. Devices learn on their own meanwhile, and only visitors who opted in to <em>improve</em> "
        "send updates (a device sends at most one a round).</p>")
    return f"""<section class="waiting" aria-label="waiting for"><h2>Waiting for round {w['round']}</h2>{first}
<p>It has <strong>{number(w['updates'])}</strong> of the {number(w['target_devices'])} updates that close it at once{deadline}
(it never closes with fewer than {number(w['min_devices'])}). So far {opted}; {number(w['sync_visitors'])} synced a profile.</p>
<p>Holdout: <strong>{100 * data['holdout']:.0f}%</strong> of visitors see the site as authored on every slot, so the effect
can be measured{" (set it in the editor rules' <code>holdout</code>)" if data['holdout'] else " — none now: uplift cannot be measured"}.</p></section>"""


def _model_section(data: dict) -> str:
    rounds = [[r["version"], _when(r["closed_at"]), r["devices"], number(r["noise_multiplier"]), number(r["epsilon"]),
               r["reason"]] for r in reversed(data["rounds"][-10:])]
    features = data["features"]

    def weights(rows: list[dict]) -> list[list[str]]:
        return [[_feature_name(f), f"{f['weight']:+.3f} ± {2 * f['sd']:.3f}" + (
            " (within noise)" if abs(f["weight"]) < 2 * f["sd"] else "")] for f in rows]

    chart = (f'<div class="chart" data-chart="history" data-site="{escape(data["site"])}" '
             'aria-label="devices and ε per round"></div>') if rounds else ""
    return f"""<section><h2>Global model</h2>{chart}
{table(["version", "closed", "devices", "σ", "ε after", "closed because"], rounds, "No rounds yet: the first closes once enough devices sent updates.")}
<div class="columns"><div><h3>Raise scores most</h3>{table(["feature", "weight"], weights(features["positive"]), "no positive weights yet")}</div>
<div><h3>Lower scores most</h3>{table(["feature", "weight"], weights(features["negative"]), "no negative weights yet")}</div></div>
<p class="hint">Devices send hashed feature buckets, never feature names: the server names a bucket only
where a name it knows (the site's catalog and logged sample: variants, their features, interests and page types,
alone or with a device type, referrer, part of day or day of week) hashes to it, and lists only those.
{_unnamed(features["unnamed"], data["catalog"])} {_noise(data['noise_std'])}</p>{_replay(data["replay"])}</section>"""


def _unnamed(unnamed: int, catalog: dict | None) -> str:
    named = (f"The catalog names {number(catalog['variants'])} variants in {number(catalog['slots'])} slots "
             f"with {number(catalog['features'])} features." if catalog else "No catalog yet: import one below.")
    if not unnamed:
        return named
    return f"{named} {number(unnamed)} weights beyond the noise have no known name and are not listed."


def _noise(std: float) -> str:
    if std == 0:
        return "No privacy noise in the weights yet: no noised round has closed."
    return (f"Each round adds Gaussian noise of standard deviation {number(std)} (σ·C) to every bucket's sums "
            "of the devices' gradients and curvatures; each weight's ± (two standard deviations) counts that "
            "noise in, and a weight within it may be noise alone.")


def _feature_name(feature: dict) -> str:
    return f"probably {feature['name']}"  # only named buckets are listed


def _percent(p: float | None) -> str:
    return "—" if p is None else f"{100 * p:.2f}%"


def _interval(ci: list[float] | None) -> str:
    return "—" if ci is None else f"{100 * ci[0]:.2f}–{100 * ci[1]:.2f}%"


def _replay(replayed: dict | None) -> str:
    if replayed is None:
        return ('<h3>Offline replay</h3><p class="empty">No logged sample yet: give one with '
                "<code>python -m sync_server load-sample SITE FILE.jsonl</code> to see how the global model "
                "would have done on your own randomized traffic.</p>")
    rows = [[slot, number(r["impressions"]), number(r["matched"]), _percent(r["policy_ctr"]), _interval(r["ci"]),
             _percent(r["logged_ctr"]), "—" if r["lift"] is None else f"×{r['lift']:.2f}"]
            for slot, r in replayed["slots"].items()]
    return f"""<h3>Offline replay</h3><p>The current global model, greedy, replayed on {number(replayed["impressions"])}
logged impressions (uploaded {_when(replayed["uploaded_at"])}) with <code>river.bandit.evaluate_offline</code>:</p>
{table(["slot", "impressions", "matched", "model CTR", "95% CI", "logged CTR (random)", "lift"], rows)}"""


def _effect_section(data: dict) -> str:
    if not data["slots"]:
        return '<section><h2>Effect</h2><p class="empty">No impressions counted yet: counters arrive with the devices\' updates and are published when a round closes.</p></section>'
    parts = ["<section><h2>Effect</h2>"]
    for slot, effect in data["slots"].items():
        objective = effect["objective"]
        rate, rate_name = ("ctr", "CTR") if objective == "clicks" else ("conversion_rate", "conversion rate")
        rows = [[v["variant"], v["arm"], number(v["impressions"]), number(v[objective]),
                 "—" if v[rate] is None else f"{100 * v[rate]:.2f}%"] for v in effect["variants"]]
        series, name = effect["series"], escape(slot)
        lift = "— (no holdout impressions yet)" if series["uplift"][-1] is None else (
            f"{100 * series['uplift'][-1]:+.2f} points (95% confidence sequence {100 * series['low'][-1]:+.2f} "
            f"to {100 * series['high'][-1]:+.2f}, valid however often you look)")
        parts.append(f"""<h3>Slot <code>{name}</code></h3><p class="lift">Uplift in {rate_name} over the holdout: <strong>{lift}</strong></p>
<div class="columns"><div class="chart" data-chart="ctr" data-slot="{name}" aria-label="CTR by arm over time"></div>
<div class="chart" data-chart="uplift" data-slot="{name}" aria-label="uplift over time"></div></div>
{table(["variant", "arm", "impressions", objective, rate_name], rows)}{_drift(data["drift"].get(slot, []))}""")
    return "".join(parts) + "</section>"


def _drift(alerts: list[dict]) -> str:
    if not alerts:
        return '<p class="drift">No drift: the personalized CTR has held steady (River ADWIN).</p>'
    items = "".join(f"<li>at version {a['version']}: CTR {100 * a['ctr_before']:.2f}% → {100 * a['ctr_after']:.2f}%</li>"
                    for a in alerts)
    return f'<div class="notice warning drift" role="status"><strong>Drift alert</strong> (River ADWIN)<ul>{items}</ul></div>'



def _controls(data: dict, rules_version: int, rules: dict, session: AdminSession,
              errors: dict[str, str], submitted: dict[str, str]) -> str:
    action = f"/admin/sites/{escape(data['site'])}"
    killed = bool(rules.get("kill_switch"))
    kill = f"""<form method="post" action="{action}/kill-switch" class="kill">{csrf_field(session)}
<input type="hidden" name="on" value="{'0' if killed else '1'}">
<p>{"Every visitor sees every slot as authored." if killed else "Visitors get personalized slots."}</p>
<button class="{'' if killed else 'danger'}">{"Resume personalization" if killed else "Stop personalization (kill switch)"}</button></form>"""
    rules_text = submitted.get("rules", json.dumps(rules, indent=2))
    rules_form = f"""<form method="post" action="{action}/rules">{csrf_field(session)}{_error(errors, "rules")}
<label>Rules, version {rules_version} (JSON: per slot <code>pin</code>, <code>exclude</code>, <code>boost</code>, <code>holdout</code>)
<textarea name="rules" rows="10" spellcheck="false">{escape(rules_text)}</textarea></label><button>Save rules</button></form>"""
    config = data["federation"]
    fields = "".join(
        f"""<label>{label} <input name="{name}" value="{escape(submitted.get(name, '' if config[name] is None else str(config[name])))}"
inputmode="decimal"><small>{escape(hint)}</small></label>""" for name, (label, hint) in FEDERATION_FIELDS.items())
    federation = f"""<form method="post" action="{action}/federation" class="grid">{csrf_field(session)}{_error(errors, "federation")}
{fields}<button>Save federated settings</button></form>"""
    return f"""<section><h2>Control</h2>{_error(errors, "kill_switch")}<h3>Kill switch</h3>{kill}
<h3>Editor rules</h3>{rules_form}<h3>Federated learning</h3>{federation}</section>"""


def _catalog_section(data: dict, session: AdminSession, errors: dict[str, str], submitted: dict[str, str]) -> str:
    action = f"/admin/sites/{escape(data['site'])}/catalog"
    return f"""<section><h2>Catalog</h2><p>The site's public catalog (slots, their variants' ids, titles and features,
the interests and page types its pages offer; never visitor data) names the model's weights in the site's words.
The command line imports it too: <code>python -m sync_server import-catalog {escape(data['site'])} FILE_OR_URL</code>.</p>
<form method="post" action="{action}" class="grid">{csrf_field(session)}{_error(errors, "catalog")}
<label class="wide">Catalog JSON <textarea name="catalog" rows="4" spellcheck="false" maxlength="{CATALOG_BYTES}"
placeholder='{{"slots": {{"picks": [{{"id": "tent", "title": "Two-person tent", "features": ["topic:camping"]}}]}}}}'>{escape(submitted.get("catalog", ""))}</textarea></label>
<label class="wide">…or fetch it from <input name="url" type="url" maxlength="2000" value="{escape(submitted.get("url", ""))}"
placeholder="https://shop.example/p13n-catalog.json"><small>a public http(s) address; at most {CATALOG_BYTES // 1000} kB,
read within {FETCH_SECONDS:g} seconds</small></label><button>Import the catalog</button></form></section>"""


def _origins_section(site: str, origins: list[str], session: AdminSession, errors: dict[str, str],
                     submitted: dict[str, str]) -> str:
    text = submitted.get("origins", "\n".join(origins))
    return f"""<section><h2>Site key and origins</h2><form method="post" action="/admin/sites/{escape(site)}/origins">
{csrf_field(session)}{_error(errors, "origins")}<label>Pages on these origins may call the site's API, one a line
(none: only this server's own pages) <textarea name="origins" rows="3" spellcheck="false" maxlength="20000">{escape(text)}</textarea></label>
<button>Save origins</button></form>
<h3>Rotate the key</h3><form method="post" action="/admin/sites/{escape(site)}/rotate-key" class="grid">{csrf_field(session)}{_error(errors, "rotate")}
<label>New key <input name="new_key" value="{escape(submitted.get("new_key", ""))}" required maxlength="64"
pattern="[A-Za-z0-9_\\-]{{1,64}}" autocomplete="off"><small>everything the site has moves to the new key and the key
<code>{escape(site)}</code> stops working at once, so pages need the new one. The old key stays reserved for this
site: no other site can take it, and rotating back to it restores it.</small></label>
{_confirm(site, "rotate the key")}<button class="danger">Rotate the key</button></form></section>"""


def _danger_section(site: str, session: AdminSession, errors: dict[str, str]) -> str:
    action = f"/admin/sites/{escape(site)}"
    return f"""<section class="danger-zone"><h2>Erase and delete</h2>
<h3>Erase a visitor</h3><form method="post" action="{action}/erase" class="grid">{csrf_field(session)}{_error(errors, "erase")}
<label>Visitor id <input name="visitor" required maxlength="64" autocomplete="off"><small>from the visitor's
request (their preferences panel shows it); their profile, consent history and secret go; the audit log counts
the erasure without the id</small></label>
<label>Type <code>erase</code> to confirm <input name="confirm" required maxlength="64" autocomplete="off"></label>
<button class="danger">Erase the visitor</button></form>
<h3>Delete the site</h3><form method="post" action="{action}/delete" class="grid">{csrf_field(session)}{_error(errors, "delete")}
<p>The site's models, rounds, consents, profiles, rules and catalog are deleted; its audit log stays.</p>
{_confirm(site, "delete the site")}<button class="danger">Delete the site</button></form></section>"""


def _confirm(site: str, what: str) -> str:
    return (f'<label>Type the site key <code>{escape(site)}</code> to {what} <input name="confirm" required '
            f'maxlength="64" autocomplete="off"></label>')


def _audit_section(audit: list[dict]) -> str:
    rows = [[_when(a["at"]), a["admin"], a["via"] or "—", a["action"], json.dumps(a["detail"], sort_keys=True)] for a in audit]
    return (f'<section><h2>Audit log</h2>{table(["when", "who", "how", "change", "set to"], rows, "No changes yet.")}'
            "<p class=\"hint\">Erasures are counted without the visitor's id: what was erased, never whose.</p></section>")


def _stat(label: str, value: object) -> str:
    return f'<div class="stat"><span>{escape(label)}</span><strong>{escape(str(value))}</strong></div>'


def _epsilon(data: dict) -> str:
    budget = data["epsilon_budget"]
    spent = "unbounded (a round without noise)" if data["epsilon"] is None else number(data["epsilon"])
    return spent + (f" of {number(budget)}" if budget is not None else " (no budget)")


def _budget_bar(data: dict) -> str:
    budget = data["epsilon_budget"]
    if budget is None:
        return f'<div class="budget"><span>No ε budget: nothing stops training. {_assumptions(data)}</span></div>'
    share = 1.0 if data["epsilon"] is None else min(1.0, data["epsilon"] / budget)
    stopped = ("" if data["accepting_updates"] else " Rounds are paused: the next one would pass the budget; "
               "devices keep learning on their own, and rounds resume as old ones leave the 365 days.")
    return (f'<div class="budget"><progress max="1" value="{share:.3f}"></progress>'
            f'<span>{100 * share:.0f}% of the ε budget spent.{stopped} {_assumptions(data)}</span></div>')


def _assumptions(data: dict) -> str:
    """What the ε figure assumes, in one line beside it (README, "Privacy accounting")."""
    config = data["federation"]
    k = config["device_rounds_per_year"]
    return (f"<small>ε per visitor over any 365 days at δ = {config['delta']:g}, assuming a device joins at most "
            f"{'one round' if k == 1 else f'{k} rounds'} a year (devices keep to it, one-use tokens enforce it) and "
            f"sends one clipped update per round; noise σ = {number(config['noise_multiplier'])}; "
            "no amplification by sampling.</small>")


def _error(errors: dict[str, str], form: str) -> str:
    return notice(errors[form], "error") if form in errors else ""


def _when(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
