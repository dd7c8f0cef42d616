// The compact model form (edge/model_form.py) read in JavaScript: the published global model,
// or the table the worker keeps of this visitor's own model (edge/early_table.py). Answers
// {header, weight(bucket), precision(bucket)}: a bucket with no weight has 0, one with no
// precision undefined (the policy's prior). A body it cannot read throws, naming the problem.

// IEEE 754 half precision, as Python's struct "e" writes it.
function half(bits) {
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const halves = (view, offset, count) => Float64Array.from({ length: count }, (_, i) => half(view.getUint16(offset + 2 * i, true)));

// `count` uint32 buckets then their `count` float16 values, from `offset`: a Map, and where it ends.
function sparse(view, offset, count) {
  const values = halves(view, offset + 4 * count, count);
  const table = new Map(Array.from(values, (value, i) => [view.getUint32(offset + 4 * i, true), value]));
  return [table, offset + 6 * count];
}

export function decodeTable(body) {
  const line = body.indexOf(10);
  if (line < 0) throw new Error("compact model: no header line");
  const header = JSON.parse(new TextDecoder().decode(body.subarray(0, line)));
  const view = new DataView(body.buffer, body.byteOffset + line + 1, body.length - line - 1);
  const { layout, count } = header.weights;
  // Dense: 2^hash_bits values, read by index (a Map of a quarter million would take long to build).
  const [weights, end] = layout === "dense" ? [halves(view, 0, count), 2 * count] : sparse(view, 0, count);
  const [precisions] = header.precisions ? sparse(view, end, header.precisions.count) : [new Map()];
  const shrink = shrinkage(layout === "dense" ? weights : [...weights.values()], header.noise_variance ?? 0);
  const at = layout === "dense" ? (b) => weights[b] : (b) => weights.get(b) ?? 0;
  return { header, weight: (b) => at(b) * shrink, precision: (b) => precisions.get(b) };
}

// `GlobalModel.prior()`: what the weights are shrunk toward 0 by, for the noise a model states.
function shrinkage(values, noise) {
  const weights = [...values].filter((w) => w !== 0);
  if (!noise || !weights.length) return 1;
  const squares = weights.reduce((sum, w) => sum + w * w, 0);
  const signal = squares / weights.length - noise * (1 + 3 * Math.sqrt(2 / weights.length));
  return signal <= 0 ? 0 : signal / (signal + noise);
}
