// Anti-flicker: a slot whose order is not known yet stays invisible (keeping its place in the
// layout) until its first decision, but never longer than `ms`: then its default content shows.
// It sets the style through the CSSOM, which a strict Content-Security-Policy allows.

export function hideUntilDecided(slot, ms) {
  if (ms <= 0) return () => {};
  const before = slot.style.visibility;
  slot.style.visibility = "hidden";
  let hidden = true;
  const reveal = () => {
    if (!hidden) return;
    hidden = false;
    clearTimeout(timer);
    slot.style.visibility = before;
  };
  const timer = setTimeout(reveal, ms);
  return reveal;
}
