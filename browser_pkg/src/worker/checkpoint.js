// Write-behind checkpoints: every change is saved, but never two writes at once.
// Changes that arrive while a write is in flight are coalesced into the next one.

export function checkpointer(readState, save, onSaved) {
  let changes = 0;
  let saved = 0;
  let writing = false;

  async function flush() {
    writing = true;
    try {
      while (saved < changes) {
        const upTo = changes;
        await save(readState());
        saved = upTo;
        onSaved(changes - saved);
      }
    } finally {
      writing = false;
    }
  }

  return function changed() {
    changes += 1;
    if (!writing) flush().catch((error) => console.error("[p13n] could not save state:", error));
  };
}
