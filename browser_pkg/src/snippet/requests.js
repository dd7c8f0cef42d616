// What the visitor asks for, from the page's own controls or the preferences panel: consent
// changes, interests, variety, their data, "forget me", another device's sync code. A module of its
// own (requests.HASH.js), loaded with import() when the first such request comes: pages
// whose visitors make none never download it.
//
// `page` is what the snippet lends it: config, choices, cache, ask(type, fields), engine()
// ({ask, booted}, or null when none started), emit(name, detail), showDefaults(state?) (the
// page's own order, nothing remembered), redecideAll(), personalizing().

import { forgetVisitor } from "../shared/forget.js";
import { adopt, choose, exported, recorded } from "./choice_changes.js";
import { logWarning } from "./log.js";
import { SyncCodeError, decodeSyncCode, encodeSyncCode } from "./sync_code.js";
import { SERVER_PURPOSES } from "./visitor.js";


export function visitorRequests(page) {
  const { config, choices, ask, emit } = page;

  async function recordChoices() {
    const sent = choices.forWorker();
    const reply = await ask("consent", { ...sent, record: choices.mustRecord() });
    if (reply.recorded) recorded(choices, sent);
  }

  // p13n.consent({improve: true}) grants or revokes purposes; p13n.consent({}) confirms them
  // under the page's policy version.
  async function consent(changes) {
    if (typeof changes !== "object" || changes === null) throw new TypeError("p13n.consent(changes) needs an object like {improve: true}");
    const before = choices.purposes();
    choose(choices, changes);
    if (before.personalize && !page.personalizing()) page.showDefaults("off");
    else if (!before.personalize && page.personalizing()) page.redecideAll();
    try {
      if (page.engine() || choices.mustRecord()) await recordChoices();
    } catch (error) {
      await settleUnrecorded(before);
      throw error;
    }
    emit("consent", choices.purposes());
    return choices.purposes();
  }

  // The server could not record a change (the worker took none of it). `improve` and `sync`
  // act through the server, so what was granted is not in force; what was withdrawn stays
  // withdrawn on this device, and reaches the server on a later visit.
  async function settleUnrecorded(before) {
    const granted = SERVER_PURPOSES.filter((purpose) => choices.purposes()[purpose] && !before[purpose]);
    if (granted.length) choose(choices, Object.fromEntries(granted.map((purpose) => [purpose, false])));
    if (page.engine()) await ask("consent", { ...choices.forWorker(), record: false }).catch(() => {}); // none started: none in force
  }

  async function interests(chosen) {
    if (chosen === undefined) return (await ask("profile")).profile.interests;
    const reply = await ask("preferences", { interests: chosen });
    await page.redecideAll(); // a declared interest counts at once
    return reply.interests;
  }

  // Whether the visitor wants more variety (no argument: read it); every slot takes it at once.
  async function variety(wanted) {
    if (wanted === undefined) return (await ask("profile")).variety;
    const reply = await ask("preferences", { variety: wanted });
    await page.redecideAll();
    return reply.variety;
  }

  // Everything held about the visitor, on this device and on the server, as one JSON object.
  async function exportData() {
    const { device, server } = await ask("export", { known: choices.known() });
    const choicesHeld = exported(choices);
    return { site: config.site, exported_at: new Date().toISOString(), device: { choices: choicesHeld, decisions: page.cache.all(), ...device }, server };
  }

  // Whether an engine runs (one that could not start has logged why).
  const engineUp = async () => page.engine() !== null && page.engine().booted.then(() => true, () => false);

  // Erase the visitor on the server, then on this device (the worker does, when one runs:
  // its engine starts over too); the page shows its defaults.
  async function forget() {
    const known = choices.known();
    const server = (await engineUp())
      ? (await ask("forget", { known })).server
      : await forgetVisitor({ sync: config.sync, site: config.site, who: choices.forWorker(), known }, logWarning);
    choices.keep(null);
    page.showDefaults();
    emit("consent", choices.purposes());
    return { device: true, server: server !== null };
  }

  // The code that carries the visitor's id and secret to their other devices, once the
  // server has recorded their `sync` consent; null before.
  function syncCode() {
    const { visitor, secret, purposes } = choices.forWorker();
    return purposes.sync && choices.known() && !choices.mustRecord() ? encodeSyncCode(visitor, secret) : null;
  }

  // Be, on this device, the visitor of another device's sync code: their synced profile is
  // restored into the engine, this device's consent is recorded under their id, and every
  // slot is decided again. Rejects with a SyncCodeError (its `reason`) for a code that opens
  // no profile, and changes nothing then.
  async function useSyncCode(code) {
    const identity = decodeSyncCode(code);
    const reply = await ask("restore", { ...identity, known: choices.known() });
    if (!reply.restored) throw new SyncCodeError(reply.reason);
    adopt(choices, identity, reply.inForce);
    await recordChoices(); // the worker acts for the adopted visitor from now on
    await page.redecideAll();
    emit("consent", choices.purposes());
    return reply.interests;
  }

  return { recordChoices, consent, interests, variety, exportData, forget, syncCode, useSyncCode };
}
