// The visitors' preferences panel, a module of its own that the snippet loads with import()
// only when the panel opens (widget.js). It goes into the widget's Shadow DOM beside its
// button, so the page's CSS cannot break it and its CSS cannot touch the page. Plain DOM and
// native controls, keyboard accessible as they are. The panel is a <dialog> opened with
// showModal(): the page behind it is inert (focus stays in the panel), Escape or a click on
// the backdrop closes it, and focus returns where it came from. Styles go in through a
// constructed stylesheet, which a strict style-src allows.
//
// `host` is what the snippet lends it: button (whether the site shows the floating button),
// purposes(), outdated(), consent(changes), interests(list?), variety(wanted?), interestKinds (the kinds of
// feature a visitor may pick, words: data-interests), slots() (the page's slot elements), decisions (a Map of slot
// name -> its latest decision), syncCode(), useSyncCode(code), exportData(), forget(); the
// last five are promises.

import { SLOT, VARIANT, candidatesOf } from "../slots.js";
import { PURPOSES } from "../visitor.js";
import { STRINGS } from "./strings.js";
import { STYLES } from "./styles.js";

const CODE_REFUSALS = { malformed: "codeMalformed", unknown: "codeUnknown", empty: "codeEmpty" };

// h("p", {className: "help"}, "text", child): an element with properties and children.
function h(tag, props = {}, ...children) {
  const element = Object.assign(document.createElement(tag), props);
  element.append(...children.filter((child) => child !== null));
  return element;
}

// The panel's styles join the button's: through a constructed stylesheet where there is one.
function styled(root) {
  if (root.adoptedStyleSheets) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLES);
    root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
  } else {
    root.append(h("style", { textContent: STYLES }));
  }
}

// What a person calls a variant: its data-p13n-label, else its first heading, else its id.
function variantLabel(variant, id) {
  const heading = variant?.querySelector("h1, h2, h3, h4, h5, h6");
  return variant?.dataset.p13nLabel ?? heading?.textContent.trim() ?? id;
}

// A name for an interest: the site's (p13n.strings), else its value for a topic ("hiking"),
// else its kind and value ("Price: low"), so words like "long" or "live" say what they are.
function interestLabel(strings, feature) {
  if (strings[feature]) return strings[feature];
  const colon = feature.indexOf(":");
  const kind = feature.slice(0, colon);
  const value = feature.slice(colon + 1).replace(/[_-]/g, " ");
  return kind === "topic" ? value : `${kind[0].toUpperCase()}${kind.slice(1).replace(/[_-]/g, " ")}: ${value}`;
}

// The interests a visitor can pick: the page's candidate features of the site's kinds.
function interestChoices(slots, kinds) {
  const features = slots.flatMap((slot) => candidatesOf(slot).flatMap((c) => c.features));
  return [...new Set(features.filter((f) => kinds.includes(f.split(":")[0])))].sort();
}

// `root` is the widget's shadow root, `button` its floating button; `overrides` the site's words.
export function preferencesPanel({ root, button, host, overrides }) {
  let strings = { ...STRINGS, ...overrides };
  let ui = null;
  let opener = null;

  const say = (text, where = ui.status) => (where.textContent = text);
  const failure = (error) => strings.failed.replace("{error}", error.message ?? error);
  const failed = (error, where) => say(failure(error), where);

  // A choice the server had to hear of and did not is not in force: the switch shows what is.
  function toggle(purpose) {
    const input = h("input", { type: "checkbox", name: purpose });
    input.setAttribute("role", "switch");
    input.setAttribute("aria-describedby", `help-${purpose}`);
    input.onchange = () => host.consent({ [purpose]: input.checked }).then(refresh, (error) => refresh().finally(() => failed(error)));
    return [h("label", {}, input, strings[purpose]), h("p", { className: "help", id: `help-${purpose}` }, strings[`${purpose}Help`])];
  }

  // "Use on another device": this device's sync code (with `sync`), and a field for another's.
  function otherDevice() {
    const code = h("input", { type: "text", readOnly: true, id: "code" });
    code.setAttribute("aria-label", strings.yourCode);
    code.setAttribute("aria-describedby", "code-help");
    const entry = h("input", { type: "text", id: "entry", autocomplete: "off", spellcheck: false });
    entry.setAttribute("aria-describedby", "code-status");
    Object.assign(ui, {
      code,
      entry,
      needsSync: h("p", { className: "help", textContent: strings.codeNeedsSync }),
      reveal: h("button", { className: "secondary", textContent: strings.showCode, onclick: () => showCode().catch(failed) }),
      myCode: h("div", { hidden: true },
        h("div", { className: "row" }, code, h("button", { className: "secondary", textContent: strings.copy, onclick: copyCode })),
        h("p", { className: "help", id: "code-help", textContent: strings.codeHelp })),
      codeStatus: h("p", { className: "help", id: "code-status" }),
    });
    ui.codeStatus.setAttribute("role", "status");
    return h("details", {},
      h("summary", { textContent: strings.otherDevice }),
      ui.needsSync, ui.reveal, ui.myCode,
      h("form", { onsubmit: useCode },
        h("label", { htmlFor: "entry", textContent: strings.enterCode }),
        h("div", { className: "row" }, entry, h("button", { textContent: strings.useCode }))),
      ui.codeStatus);
  }

  function build() {
    const reopen = isOpen();
    const old = ui?.panel;
    const close = h("button", { className: "close", textContent: "×", onclick: hide });
    close.setAttribute("aria-label", strings.close);
    ui = { status: h("p", { className: "status" }) };
    ui.status.setAttribute("role", "status");
    ui.notice = h("div", { className: "notice" },
      h("p", { textContent: strings.policyChanged }), h("button", { textContent: strings.confirm, onclick: confirm }));
    ui.forget = h("button", { className: "secondary", textContent: strings.forget, onclick: forget });
    const panel = h("dialog", { className: "panel", id: "panel" },
      h("header", {}, h("h2", { id: "title", textContent: strings.title, tabIndex: -1 }), close),
      ui.notice,
      ...PURPOSES.flatMap(toggle),
      otherDevice(),
      h("h3", { textContent: strings.interests }),
      h("p", { className: "help", textContent: strings.interestsHelp }),
      h("fieldset", { className: "interests" }),
      // Off until the engine has said what the visitor chose (showInterests): a click before would be lost.
      h("label", {}, h("input", { type: "checkbox", name: "variety", disabled: true }), strings.variety),
      h("p", { className: "help", textContent: strings.varietyHelp }),
      h("h3", { textContent: strings.why }),
      h("div", { className: "why" }),
      h("div", { className: "actions" }, h("button", { textContent: strings.download, onclick: download }), ui.forget),
      ui.status);
    panel.setAttribute("aria-labelledby", "title");
    panel.setAttribute("part", "panel");
    panel.addEventListener("close", () => panel === ui.panel && closed()); // Escape closes it too
    panel.addEventListener("click", (event) => event.target === panel && outside(panel, event) && hide());
    panel.addEventListener("keydown", (event) => event.key === "Tab" && keepFocus(event));
    ui.panel = panel;
    button.setAttribute("aria-controls", "panel");
    if (old) old.replaceWith(panel);
    else root.append(panel);
    if (reopen) panel.showModal();
  }

  const isOpen = () => ui !== null && ui.panel.open;

  // Tab goes round inside the panel: a modal dialog would hand focus to the browser's own UI.
  function keepFocus(event) {
    const stops = [...ui.panel.querySelectorAll("button, input, summary")].filter((el) => !el.matches(":disabled") && el.getClientRects().length);
    const at = stops.indexOf(root.activeElement);
    if (event.shiftKey ? at > 0 : at < stops.length - 1) return;
    event.preventDefault();
    stops.at(event.shiftKey ? -1 : 0).focus();
  }

  async function refresh() {
    const purposes = host.purposes();
    for (const purpose of PURPOSES) ui.panel.querySelector(`[name=${purpose}]`).checked = purposes[purpose];
    ui.notice.hidden = !host.outdated();
    ui.forget.textContent = strings.forget;
    delete ui.forget.dataset.armed;
    const code = await host.syncCode();
    ui.needsSync.hidden = code !== null;
    ui.reveal.hidden = code === null || !ui.myCode.hidden;
    if (code === null) hideCode();
    showReasons();
    await showInterests(purposes.personalize);
  }

  // Interests need the engine: without one (it could not start) the list says why.
  async function showInterests(personalizing) {
    const fieldset = ui.panel.querySelector(".interests");
    const variety = ui.panel.querySelector("[name=variety]");
    let chosen = [];
    let wanted = false;
    try {
      if (personalizing) [chosen, wanted] = await Promise.all([host.interests(), host.variety()]);
    } catch (error) {
      fieldset.disabled = variety.disabled = true;
      return fieldset.replaceChildren(h("p", { className: "help", textContent: failure(error) }));
    }
    Object.assign(variety, { disabled: !personalizing, checked: wanted });
    variety.onchange = () => host.variety(variety.checked).then(refresh, failed);
    const focused = root.activeElement?.value;
    fieldset.disabled = !personalizing;
    fieldset.setAttribute("aria-label", strings.interests);
    fieldset.replaceChildren(...interestChoices(host.slots(), host.interestKinds.split(/\s+/).filter(Boolean)).map((feature) => {
      const input = h("input", { type: "checkbox", name: "interest", value: feature, checked: chosen.includes(feature) });
      input.onchange = () => {
        const picked = [...fieldset.querySelectorAll(":checked")].map((box) => box.value);
        host.interests(picked).then(refresh, failed);
      };
      return h("label", {}, input, interestLabel(strings, feature));
    }));
    if (focused) fieldset.querySelector(`[value="${CSS.escape(focused)}"]`)?.focus();
  }

  // "Why am I seeing this": for each slot, the decision's reasons for what it shows.
  function showReasons() {
    ui.panel.querySelector(".why").replaceChildren(...host.slots().map((slot) => {
      const decision = host.decisions.get(slot.getAttribute(SLOT));
      const reasons = decision?.arm === "personalized"
        ? h("ul", {}, ...decision.ranking.map((id) => {
          const variant = [...slot.querySelectorAll(`[${VARIANT}]`)].find((v) => v.getAttribute(VARIANT) === id);
          const why = decision.why[id]?.length ? decision.why[id].join("; ") : strings.noReason;
          return h("li", {}, h("b", { textContent: `${variantLabel(variant, id)}: ` }), why);
        }))
        : h("p", { className: "help", textContent: strings.siteOrder });
      return h("div", {}, h("h4", { textContent: slot.dataset.p13nLabel ?? slot.getAttribute(SLOT) }), reasons);
    }));
  }

  // The code is shown only when asked for, and hidden again when the panel closes.
  async function showCode() {
    ui.code.value = await host.syncCode();
    ui.myCode.hidden = false;
    ui.reveal.hidden = true;
    ui.code.select();
  }

  function hideCode() {
    ui.code.value = "";
    ui.myCode.hidden = true;
  }

  async function copyCode() {
    try {
      await navigator.clipboard.writeText(ui.code.value);
      say(strings.copied, ui.codeStatus);
    } catch (error) {
      ui.code.select(); // no clipboard here (an insecure page, or refused): the visitor copies it
      say(`${strings.copyByHand} (${error.name})`, ui.codeStatus);
    }
  }

  async function useCode(event) {
    event.preventDefault();
    try {
      await host.useSyncCode(ui.entry.value);
      ui.entry.value = "";
      ui.entry.removeAttribute("aria-invalid");
      await refresh();
      say(strings.codeUsed, ui.codeStatus);
    } catch (error) {
      ui.entry.setAttribute("aria-invalid", "true");
      if (error.name === "SyncCodeError") say(strings[CODE_REFUSALS[error.reason]], ui.codeStatus);
      else failed(error, ui.codeStatus);
    }
  }

  // The policy changed: the visitor keeps their choices, now under the page's version.
  async function confirm() {
    try {
      await host.consent({});
      await refresh();
      say(strings.confirmed);
    } catch (error) {
      failed(error);
    }
  }

  async function download() {
    try {
      const data = await host.exportData();
      const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
      const link = h("a", { href: url, download: `p13n-data-${data.site}.json` });
      root.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
      say(strings.downloaded);
    } catch (error) {
      failed(error);
    }
  }

  // Two clicks: erasing cannot be undone.
  async function forget() {
    if (!ui.forget.dataset.armed) {
      ui.forget.dataset.armed = "yes";
      ui.forget.textContent = strings.forgetConfirm;
      return;
    }
    try {
      await host.forget();
      await refresh();
      say(strings.forgotten);
    } catch (error) {
      failed(error);
    }
  }

  function open() {
    if (isOpen()) return;
    opener = root.activeElement ?? document.activeElement;
    ui.panel.showModal();
    button.hidden = true;
    ui.status.textContent = ui.codeStatus.textContent = "";
    ui.panel.querySelector("h2").focus();
    return refresh().catch(failed);
  }

  const hide = () => ui.panel.close();

  function closed() {
    hideCode();
    button.hidden = !host.button;
    (opener?.isConnected && opener !== document.body ? opener : button).focus();
  }

  styled(root);
  build();
  return {
    open,
    // A slot was decided: an open panel shows the new reasons.
    decided: () => isOpen() && showReasons(),
    setStrings(changed) {
      strings = { ...STRINGS, ...changed };
      build();
      if (isOpen()) refresh();
    },
  };
}

// Whether a click on the dialog itself fell outside its box: on the backdrop.
function outside(panel, { clientX: x, clientY: y }) {
  const box = panel.getBoundingClientRect();
  return x < box.left || x > box.right || y < box.top || y > box.bottom;
}
