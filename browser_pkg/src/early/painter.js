// The snippet's early paint (its entry point in the bundle: early.HASH.js). Slots the
// anti-flicker window still hides (anti_flicker.js) take the early ranker's order (ranker.js),
// if it is ready by then: every such slot or none, since an order leaves out what the page's
// other slots show. The page then asks the worker with that order as `keep`, so the engine
// keeps it unless it is clearly worse, and clicks on it are learned against the decision
// that keeps it (the click queue's `shown`).

import { guarded, logWarning } from "../snippet/log.js";
import { applyRanking } from "../snippet/slots.js";
import { earlyRanker } from "./ranker.js";

// `page` is what the snippet lends (config, context, views, emit, personalizing among it). Answers
// paintEarly(asked, shown): `asked` the slots of one decision, {slot, spec, keep?, reveal?},
// each given its `keep` here if painted; `shown` what the page's other slots show.
export function earlyPainter({ config, context, views, emit, personalizing }) {
  const ready = earlyRanker(config).catch((error) => logWarning(`no early ranking; slots wait for the engine: ${error.message}`));
  const windowEnds = new Promise((done) => setTimeout(done, config.antiFlickerMs)); // at the latest
  const hidden = (a) => a.reveal && a.slot.style.visibility === "hidden";
  return guarded("the early paint; the slots wait for the engine", async (asked, shown) => {
    if (!asked.some(hidden)) return;
    const ranker = await Promise.race([ready, windowEnds]);
    const waiting = asked.filter(hidden); // a slot revealed meanwhile keeps what it shows
    const besides = [...shown, ...asked.flatMap((a) => a.keep ?? [])];
    const ranked = ranker ? ranker.rank(waiting.map((a) => a.spec), context, besides) : null;
    if (!ranked || !personalizing()) return;
    waiting.forEach((a, i) => {
      const { slot, ranking, scores, arm } = ranked[i];
      applyRanking(a.slot, ranking);
      views.set(a.slot, { ...a.spec, ranking, context });
      a.slot.dataset.p13nState = "early";
      a.keep = ranking;
      emit("decision", { id: null, slot, ranking, scores, arm, early: ranker.source });
      a.reveal();
    });
  });
}

export { earlyRanker }; // for tests/browser/test_early.py, which compares it with the engine
