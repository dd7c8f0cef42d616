// Write-behind checkpoints: every change is saved, but never two writes at once.
// Changes that arrive while a write is in flight are coalesced into the next one.
//
// A change counts at once, and `onCount(unsaved)` says so before the reply that made it goes
// out: the page never takes a write in flight for one that saved what it has heard of. The
// write itself starts a task later, after that reply: reading the engine's whole state is
// not something the page should wait for.

const nextTask = () => new Promise((resolve) => setTimeout(resolve));

export function checkpointer(readState, save, onCount) {
  let changes = 0;
  let saved = 0;
  let writing = false;

  async function flush() {
    writing = true;
    try {
      await nextTask();
      while (saved < changes) {
        const upTo = changes;
        await save(readState());
        saved = upTo;
        onCount(changes - saved);
      }
    } finally {
      writing = false;
    }
  }

  return function changed() {
    changes += 1;
    onCount(changes - saved);
    if (!writing) flush().catch((error) => console.error("[p13n] could not save state:", error));
  };
}
