// Slots in the page's HTML: <section data-p13n-slot="hero" data-p13n-show="1">
// with children <article data-p13n-variant="a" data-features="topic:sports">.
// The page's own order is the default; a ranking moves variants into the same
// places in its order and hides those past the slot's `show` count.

export const SLOT = "data-p13n-slot";
export const VARIANT = "data-p13n-variant";

export function findSlots(root = document) {
  return [...root.querySelectorAll(`[${SLOT}]`)];
}

function variantsOf(slot) {
  return [...slot.querySelectorAll(`[${VARIANT}]`)].filter((v) => v.closest(`[${SLOT}]`) === slot);
}

export function candidatesOf(slot) {
  return variantsOf(slot).map((v) => ({
    id: v.getAttribute(VARIANT),
    features: (v.dataset.features ?? "").split(/\s+/).filter(Boolean),
  }));
}

export function applyRanking(slot, decision) {
  const variants = variantsOf(slot);
  const byId = new Map(variants.map((v) => [v.getAttribute(VARIANT), v]));
  const places = variants.map((v) => {
    const place = document.createComment("p13n");
    v.replaceWith(place);
    return place;
  });
  const show = Number(slot.dataset.p13nShow ?? Infinity);
  decision.ranking.forEach((id, i) => {
    const variant = byId.get(id);
    places[i].replaceWith(variant);
    variant.hidden = i >= show;
  });
  slot.dataset.p13nDecision = decision.id;
  slot.dataset.p13nState = "personalized";
}
