// The compact model form (edge/model_form.py) read in JavaScript: the published global model,
// or the table the worker keeps of this visitor's own model (edge/early_table.py). Answers
// {header, weights, variances}: Maps of bucket to weight and to 1 / precision (a bucket with
// no precision has the policy's prior). A body it cannot read throws, naming the problem.

// IEEE 754 half precision, as Python's struct "e" writes it.
function half(bits) {
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

// `count` uint32 buckets then their `count` float16 values, from `offset`: [buckets, values, end].
function sparse(view, offset, count) {
  const buckets = Array.from({ length: count }, (_, i) => view.getUint32(offset + 4 * i, true));
  const start = offset + 4 * count;
  const values = Array.from({ length: count }, (_, i) => half(view.getUint16(start + 2 * i, true)));
  return [buckets, values, start + 2 * count];
}

export function decodeTable(body) {
  const line = body.indexOf(10);
  if (line < 0) throw new Error("compact model: no header line");
  const header = JSON.parse(new TextDecoder().decode(body.subarray(0, line)));
  const view = new DataView(body.buffer, body.byteOffset + line + 1, body.length - line - 1);
  const { layout, count } = header.weights;
  let buckets, values, end;
  if (layout === "dense") {
    values = Array.from({ length: count }, (_, i) => half(view.getUint16(2 * i, true)));
    buckets = values.map((_, i) => i);
    end = 2 * count;
  } else {
    [buckets, values, end] = sparse(view, 0, count);
  }
  const weights = new Map(buckets.map((b, i) => [b, values[i]]).filter(([, w]) => w !== 0));
  const variances = new Map();
  if (header.precisions) {
    const [stated, precisions] = sparse(view, end, header.precisions.count);
    stated.forEach((b, i) => variances.set(b, 1 / precisions[i]));
  }
  return { header, weights: shrunk(weights, header.noise_variance ?? 0), variances };
}

// `GlobalModel.prior()`: weights shrunk toward 0 by the model's stated noise, if it states one.
function shrunk(weights, noise) {
  if (!noise || !weights.size) return weights;
  let squares = 0;
  for (const w of weights.values()) squares += w * w;
  const signal = squares / weights.size - noise * (1 + 3 * Math.sqrt(2 / weights.size));
  if (signal <= 0) return new Map();
  const shrink = signal / (signal + noise);
  return new Map([...weights].map(([b, w]) => [b, w * shrink]));
}
