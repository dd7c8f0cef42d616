// "Forget me", one path wherever it runs: in the worker, and in the page when no worker runs
// (none started, or it could not). The visitor's copy on the server goes first: if erasing it
// fails, nothing on the device changes, and the visitor, who keeps their secret, can try
// again. Then `startOver` (the worker starts its engine over as a new visitor's, so that a
// checkpoint still on its way can only write the new visitor's state, never the old one's),
// then the site's state on this device.
//
// `sync` is the sync server's URL (null without one), `who` the visitor ({visitor, secret}),
// whom the server knows (`known`) or not. Resolves the server's answer, or null when it had
// nothing to erase.

import { clearState } from "./state_store.js";
import { deleteProfile } from "./sync_client.js";

export async function forgetVisitor({ sync, site, who, known }, warn, startOver = () => {}) {
  const server = known && sync ? await deleteProfile(sync, site, who) : null;
  await startOver();
  await clearState(site, warn);
  return server;
}
