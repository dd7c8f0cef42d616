// Slots in the page's HTML: <section data-p13n-slot="hero" data-p13n-show="1">
// with children <article data-p13n-variant="a" data-features="topic:sports">.
// A ranking names the variants to show, best first: they move into the first of the
// places the slot's variants take in the page, and the others follow, hidden.

import { logWarning } from "./log.js";

export const SLOT = "data-p13n-slot";
export const VARIANT = "data-p13n-variant";
const CLICK = "data-p13n-click";
const CONTROLS = "input, select, textarea, button, label, option";
const FEATURE = /^[^\s:,]+:[^\s:,]+$/; // name:value, one colon, no comma
const OBJECTIVE = /^(click|(convert|value):[\w-]{1,64})$/; // as edge/objectives.py reads it
const warned = new Set();
const warnOnce = (message) => warned.has(message) || (warned.add(message), logWarning(message));

// Slots in `root` and below, `root` included.
function findSlots(root) {
  const inside = [...root.querySelectorAll(`[${SLOT}]`)];
  return root.matches?.(`[${SLOT}]`) ? [root, ...inside] : inside;
}

function variantsOf(slot) {
  return [...slot.querySelectorAll(`[${VARIANT}]`)].filter((v) => v.closest(`[${SLOT}]`) === slot);
}

// A variant's `data-features` words; a word not of the form name:value is dropped, with a warning.
function featuresOf(slot, variant) {
  const id = variant.getAttribute(VARIANT);
  return (variant.dataset.features ?? "").split(/\s+/).filter((word) => {
    if (word === "" || FEATURE.test(word)) return word !== "";
    warnOnce(`slot '${slot.getAttribute(SLOT)}', variant '${id}': data-features word '${word}' is not name:value; ignored`);
    return false;
  });
}

export function candidatesOf(slot) {
  return variantsOf(slot).map((v) => ({ id: v.getAttribute(VARIANT), features: featuresOf(slot, v) }));
}

// Variant ids that appear more than once in the slot.
export function duplicateIds(slot) {
  const ids = variantsOf(slot).map((v) => v.getAttribute(VARIANT));
  return [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))];
}

// Whether a click on `target` in `variant` says the visitor wanted it: activating its primary
// link (the variant itself if it is a link, else its first link) or an element marked
// data-p13n-click. Form controls never count, unless marked.
export function meaningfulClick(target, variant) {
  const control = target.closest(CONTROLS);
  if (control && variant.contains(control) && !control.hasAttribute(CLICK)) return false;
  const marked = target.closest(`[${CLICK}]`);
  if (marked && variant.contains(marked)) return true;
  const primary = variant.matches("a[href]") ? variant : variant.querySelector("a[href]");
  return primary !== null && primary.contains(target);
}

// How many variants the slot shows (its `data-p13n-show`), or undefined for all of them.
export function sizeOf(slot) {
  const show = slot.dataset.p13nShow;
  if (show === undefined) return undefined;
  if (/^[1-9][0-9]*$/.test(show.trim())) return Number(show);
  throw new Error(`data-p13n-show must be a whole number ≥ 1, got '${show}'`);
}

// What the slot optimizes (its `data-p13n-objective`): click (the default), convert:GOAL or value:GOAL.
export function objectiveOf(slot) {
  const objective = slot.dataset.p13nObjective ?? "click";
  if (OBJECTIVE.test(objective)) return objective;
  throw new Error(`data-p13n-objective must be click, convert:GOAL or value:GOAL, got '${objective}'`);
}

// The order the page's author gave each slot, noted before we first move anything.
const authored = new WeakMap();
const noteAuthoredOrder = (slot) => authored.has(slot) || authored.set(slot, candidatesOf(slot).map((c) => c.id));

// The page's own choice: its first `size` variants, in the authored order (variants added
// since then follow, in the page's order), leaving out those in `besides` (shown elsewhere).
export function defaultRanking(slot, besides = new Set()) {
  noteAuthoredOrder(slot);
  const ids = candidatesOf(slot).map((c) => c.id);
  const order = [...authored.get(slot).filter((id) => ids.includes(id)), ...ids];
  return [...new Set(order)].filter((id) => !besides.has(id)).slice(0, sizeOf(slot));
}

export function applyRanking(slot, ranking) {
  const variants = variantsOf(slot);
  const byId = new Map(variants.map((v) => [v.getAttribute(VARIANT), v]));
  const order = [...ranking, ...byId.keys()].filter((id, i, all) => all.indexOf(id) === i);
  if (variants.some((v, i) => v.getAttribute(VARIANT) !== order[i])) {
    const places = variants.map((v) => {
      const place = document.createComment("p13n");
      v.replaceWith(place);
      return place;
    });
    order.forEach((id, i) => places[i].replaceWith(byId.get(id)));
  }
  order.forEach((id, i) => show(byId.get(id), i < ranking.length));
}

// Show the first `size` variants where the page put them, moving nothing: for a slot whose
// variant ids are not unique, so no ranking can name them.
export function showInPlace(slot) {
  const size = sizeOf(slot) ?? Infinity;
  variantsOf(slot).forEach((v, i) => show(v, i < size));
}

// `hidden` alone loses to site CSS that sets `display` on variants: an important inline
// style (set through the CSSOM, which a strict CSP allows) wins.
const hiddenByUs = new WeakSet();
function show(variant, shown) {
  variant.hidden = !shown;
  if (!shown) {
    variant.style.setProperty("display", "none", "important");
    hiddenByUs.add(variant);
  } else if (hiddenByUs.delete(variant)) {
    variant.style.removeProperty("display");
  }
}

// Call `onSlots` with every slot that has variants: those in the page now, at once, and those
// that appear later, together with the others that appear with them (single-page apps render
// views after load; an empty slot counts once its variants arrive). Our own reordering adds
// nodes too, but only to slots already seen.
export function watchSlots(onSlots) {
  const seen = new WeakSet();
  const visit = (roots) => {
    const found = roots.flatMap(findSlots).filter((slot) => !seen.has(slot) && variantsOf(slot).length > 0 && seen.add(slot));
    found.forEach(noteAuthoredOrder);
    if (found.length) onSlots(found);
  };
  visit([document]);
  new MutationObserver((mutations) => {
    const added = mutations.flatMap((m) => [...m.addedNodes]).filter((node) => node.nodeType === Node.ELEMENT_NODE);
    visit(added.map((node) => node.parentElement?.closest(`[${SLOT}]`) ?? node));
  }).observe(document.documentElement, { childList: true, subtree: true });
}
