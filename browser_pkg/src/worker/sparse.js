// Python's memory with its all-zero pages left out: half of a snapshot is zeros, and leaving
// them out halves the bytes the worker receives, decodes and keeps. The form: the memory's
// size, the number of runs of non-zero pages, each run's offset and length (little-endian
// u32s), then the runs' bytes. WebAssembly memory starts zeroed, so what is left out needs
// no writing back.

const PAGE = 4096;

const zeroPage = (memory, start) => memory.subarray(start, start + PAGE).every((byte) => byte === 0);

// [offset, end] of each run of pages holding a non-zero byte.
function runs(memory) {
  const found = [];
  for (let start = 0; start < memory.length; start += PAGE) {
    if (zeroPage(memory, start)) continue;
    const end = Math.min(start + PAGE, memory.length);
    if (found.at(-1)?.[1] === start) found.at(-1)[1] = end;
    else found.push([start, end]);
  }
  return found;
}

export function pack(memory) {
  const kept = runs(memory);
  const head = new Uint32Array([memory.length, kept.length, ...kept.flatMap(([start, end]) => [start, end - start])]);
  const packed = new Uint8Array(head.byteLength + kept.reduce((sum, [start, end]) => sum + end - start, 0));
  packed.set(new Uint8Array(head.buffer));
  let at = head.byteLength;
  for (const [start, end] of kept) {
    packed.set(memory.subarray(start, end), at);
    at += end - start;
  }
  return packed;
}

// [offset, length] of each run the header lists, or null when the header does not fit.
function runsOf(view) {
  const count = view.byteLength >= 8 ? view.getUint32(4, true) : Infinity;
  if (8 + 8 * count > view.byteLength) return null;
  return Array.from({ length: count }, (_, i) => [view.getUint32(8 + 8 * i, true), view.getUint32(12 + 8 * i, true)]);
}

export function unpack(buffer) {
  const view = new DataView(buffer);
  const runs = runsOf(view);
  const size = runs && view.getUint32(0, true);
  const end = runs?.reduce((at, [, length]) => at + length, 8 + 8 * runs.length);
  if (!runs || end !== buffer.byteLength || runs.some(([start, length]) => start + length > size)) {
    throw new Error(`not a sparse memory snapshot (${buffer.byteLength} bytes)`);
  }
  const memory = new Uint8Array(size);
  let at = 8 + 8 * runs.length;
  for (const [start, length] of runs) {
    memory.set(new Uint8Array(buffer, at, length), start);
    at += length;
  }
  return memory;
}
