// edge/features.py in JavaScript: a visit's context tokens, a candidate's tokens and the
// buckets they and their crosses hash to, bit for bit as the engine hashes them (tests/browser/
// test_early.py runs both on the same visits). Only the early ranker uses it.

const DAYPARTS = [..."nnnnnnmmmmmmaaaaaaeeeeee"].map((c) => ({ n: "night", m: "morning", a: "afternoon", e: "evening" })[c]);
const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]; // getDay() order, as the engine's
const KNUTH = 0x9e3779b1; // as edge/features.py

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const utf8 = new TextEncoder();

// zlib's crc32 of the name's UTF-8 bytes, as Python's `zlib.crc32(name.encode())`.
export function crc32(name) {
  let c = 0xffffffff;
  for (const byte of utf8.encode(name)) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// `Hasher(bits)`: `bucket(name)` a token's own bucket, `key(context)` what its crosses XOR with.
export function hasher(bits) {
  const mask = 2 ** bits - 1;
  return {
    bucket: (name) => crc32(name) & mask,
    key: (context) => Math.imul(crc32(context), KNUTH) >>> (32 - bits),
  };
}

// `context_tokens`: the page's context (visitContext) as the engine's tokens.
export function contextTokens(context) {
  const tokens = ["device", "referrer", "page"].filter((key) => key in context).map((key) => `${key}:${context[key]}`);
  if ("hour" in context) tokens.push(`daypart:${DAYPARTS[context.hour]}`);
  if ("weekday" in context) tokens.push(`weekday:${WEEKDAYS[context.weekday]}`, context.weekday % 6 ? "weekday" : "weekend");
  for (const interest of context.interests ?? []) tokens.push(`interest:${interest}`);
  return tokens;
}

// A candidate's tokens as `Personalizer._tokens` has them: its features, its own name, and
// the objective of a slot that optimizes a goal, each once.
export function candidateTokens(slot, { id, features }, objective = "click") {
  const tokens = [...features, `variant:${slot}/${id}`];
  if (objective !== "click") tokens.push(`objective:${objective}`);
  return [...new Set(tokens)];
}

// The candidate's buckets in `crossed_names` order: each token alone, then crossed with each
// context key in turn (`Crossing.features`).
export function crossedBuckets(own, keys) {
  return [...own, ...keys.flatMap((key) => own.map((bucket) => key ^ bucket))];
}
