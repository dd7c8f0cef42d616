// Talk to the worker with promises: ask(type, fields) resolves with its reply.

export function startWorker(url, onEvent) {
  const worker = new Worker(url, { type: "module" });
  const waiting = new Map();
  let nextId = 0;
  const failAll = (error) => {
    for (const { reject } of waiting.values()) reject(error);
    waiting.clear();
  };
  worker.onerror = (event) => {
    event.preventDefault();
    failAll(new Error(`worker failed: ${event.message ?? "could not start"}`));
  };
  worker.onmessage = ({ data }) => {
    if (data.event) return onEvent(data);
    const pending = waiting.get(data.id);
    waiting.delete(data.id);
    if (data.error) pending.reject(new Error(data.error));
    else pending.resolve(data.reply);
  };
  return function ask(type, fields = {}) {
    return new Promise((resolve, reject) => {
      const id = ++nextId;
      waiting.set(id, { resolve, reject });
      worker.postMessage({ id, type, ...fields });
    });
  };
}
