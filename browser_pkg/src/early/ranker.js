// The early ranker: the page's first paint decided in JavaScript while the worker boots Python,
// as the engine would decide it (tests/browser/test_early.py compares the two). It scores from
// a table in the compact model form: on a returning device the one the worker keeps of the
// visitor's own model (edge/early_table.py), on a first visit the site's published global
// model. It ranks only what it can rank exactly as the engine: the deterministic policies
// (greedy, LinUCB), slots without editor rules of their own, sites without segments, visitors
// who did not ask for variety; for anything else it answers null and the page waits for the
// worker. The snippet loads it with import() beside the worker; a page never needs it again.

import { savedEarlyTable } from "../shared/state_store.js";
import { candidateTokens, contextTokens, crossedBuckets, hasher } from "./features.js";
import { decodeTable } from "./table.js";

const DEFAULTS = { policy: "lin-ucb", alpha: 0.5, prior_precision: 2.0, min_explore: 0 }; // edge.engine.Config's
const DETERMINISTIC = new Set(["greedy", "lin-ucb"]);
const SITE_WIDE = "\x00site"; // edge/rules.py's scope of the site-wide holdout

async function publishedModel(sync, site) {
  const response = await fetch(new URL(`v1/sites/${encodeURIComponent(site)}/model`, sync), {
    headers: { accept: "application/vnd.p13n.model" },
    credentials: "omit",
  });
  if (!response.ok) throw new Error(`the global model: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

// `edge.rules.draw`: the visitor's uniform draw in [0, 1) for a holdout scope.
async function draw(visitor, scope) {
  const digest = new DataView(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${visitor}\x1f${scope}`)));
  return (digest.getUint32(0) * 2 ** 32 + digest.getUint32(4)) / 2 ** 64;
}

// `Rules.group` for the site-wide scope, for a new visitor whose engine takes the page's id.
async function firstGroup(rules = {}, visitor) {
  if (rules.kill_switch) return "off";
  const share = rules.holdout ?? 0;
  if (share <= 0) return "personalized";
  if (!globalThis.crypto?.subtle || !visitor) return null; // no SHA-256 here: the worker decides
  return (await draw(visitor, SITE_WIDE)) < share ? "holdout" : "personalized";
}

// The ranker for this visitor: `rank(specs, context, shown)` as the worker's `decide_page`
// takes them, answering [{slot, ranking, scores, arm}] or null; null if there is no table.
export async function earlyRanker({ site, sync, policy, visitor }) {
  // A page view with no order remembered is most likely the visitor's first: the site's model
  // is asked for at once, not after IndexedDB has been read.
  const first = localStorage.getItem(`p13n:decisions:${site}`) === null;
  const published = () => (sync ? publishedModel(sync, site) : null);
  const asked = first ? published() : null;
  asked?.catch(() => {}); // read below, unless the visitor's own table is there
  const local = await savedEarlyTable(site).catch(() => null);
  const body = local ?? (await (asked ?? published()));
  if (!body) return null;
  const table = decodeTable(body);
  const { header } = table;
  const config = local ? { ...DEFAULTS, ...header } : { ...DEFAULTS, ...(policy ? { policy } : {}) };
  const settings = header.settings ?? {};
  const group = local ? header.group : await firstGroup(settings.rules, visitor);
  const exact = group && DETERMINISTIC.has(config.policy) && !config.min_explore && !header.variety
    && !Object.keys(settings.segments ?? {}).length;
  return { source: local ? "local" : "global", rank: exact ? pageRanker(table, config, group, settings.rules?.slots ?? {}) : () => null };
}

function pageRanker(table, config, group, slotRules) {
  const hash = hasher(table.header.hash_bits);
  const { weight } = table;
  const variance = (b) => 1 / (table.precision(b) ?? config.prior_precision);
  const bound = config.policy === "lin-ucb" ? config.alpha : 0;

  // Each candidate's logit and variance, summed token by token as `Crossing.sums` does.
  function score(buckets, width, n) {
    let logit = 0;
    let spread = 0;
    for (let t = 0; t < n; t++) {
      let w = 0;
      let v = 0;
      for (let row = 0; row < width; row++) {
        w += weight(buckets[row * n + t]);
        v += variance(buckets[row * n + t]);
      }
      logit += w;
      spread += v;
    }
    return { logit: table.header.intercept + logit, variance: spread / (n * width) };
  }

  function rankSlot({ slot, candidates, size, objective }, keys, onPage) {
    const open = candidates.filter((c) => !onPage.has(c.id));
    const shown = size ?? candidates.length;
    if (group !== "personalized") return { slot, ranking: open.slice(0, shown).map((c) => c.id), scores: {}, arm: group };
    const scored = open.map((candidate) => {
      const own = candidateTokens(slot, candidate, objective).map(hash.bucket);
      const { logit, variance: v } = score(crossedBuckets(own, keys), keys.length + 1, own.length);
      return { id: candidate.id, logit, by: logit + bound * Math.sqrt(v) };
    });
    const ranking = [...scored].sort((a, b) => b.by - a.by).slice(0, shown).map((c) => c.id); // stable: ties keep the page's order
    const sigmoid = (z) => (z < -30 ? 0 : z > 30 ? 1 : 1 / (1 + Math.exp(-z)));
    return { slot, ranking, scores: Object.fromEntries(scored.map((c) => [c.id, sigmoid(c.logit)])), arm: group };
  }

  // Every slot or none: a slot left to the worker could show what a later one painted.
  return (specs, context, shown = []) => {
    if (specs.some((s) => slotRules[s.slot])) return null;
    const visit = [...new Set([...contextTokens(context), ...(table.header.tokens ?? [])])];
    const keys = visit.map(hash.key);
    const onPage = new Set(shown);
    return specs.map((spec) => {
      const decided = rankSlot(spec, keys, onPage);
      decided.ranking.forEach((id) => onPage.add(id));
      return decided;
    });
  };
}
