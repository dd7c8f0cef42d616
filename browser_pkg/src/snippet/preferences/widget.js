// The visitors' preferences widget: a floating button and a panel in a Shadow DOM, so the
// page's CSS cannot break it and its CSS cannot touch the page. Plain DOM, native controls
// (keyboard accessible as they are), Escape closes, focus returns where it came from.
// Styles go in through a constructed stylesheet, which a strict style-src allows.
//
// `host` is what the snippet lends it: purposes(), consent(changes), interests(list?),
// interestChoices(), decisions() ([{slot, decision}]), exportData(), forget().

import { SLOT, VARIANT } from "../slots.js";
import { STRINGS } from "./strings.js";
import { STYLES } from "./styles.js";

const PURPOSES = ["personalize", "improve", "sync"];

// h("p", {className: "help"}, "text", child): an element with properties and children.
function h(tag, props = {}, ...children) {
  const element = Object.assign(document.createElement(tag), props);
  element.append(...children.filter((child) => child !== null));
  return element;
}

function styled(root) {
  if (root.adoptedStyleSheets) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLES);
    root.adoptedStyleSheets = [sheet];
  } else {
    root.append(h("style", { textContent: STYLES }));
  }
}

// What a person calls a variant: its data-p13n-label, else its first heading, else its id.
function variantLabel(variant, id) {
  const heading = variant?.querySelector("h1, h2, h3, h4, h5, h6");
  return variant?.dataset.p13nLabel ?? heading?.textContent.trim() ?? id;
}

export function preferencesWidget(host) {
  let strings = { ...STRINGS };
  let root = null;
  let ui = null;
  let opener = null;

  const say = (text) => (ui.status.textContent = text);
  const failed = (error) => say(strings.failed.replace("{error}", error.message ?? error));
  const interestLabel = (feature) => strings[feature] ?? feature.slice(feature.indexOf(":") + 1).replace(/[_-]/g, " ");

  function toggle(purpose) {
    const input = h("input", { type: "checkbox", name: purpose });
    input.setAttribute("role", "switch");
    input.setAttribute("aria-describedby", `help-${purpose}`);
    input.onchange = () => host.consent({ [purpose]: input.checked }).then(refresh, failed);
    return [h("label", {}, input, strings[purpose]), h("p", { className: "help", id: `help-${purpose}` }, strings[`${purpose}Help`])];
  }

  function build() {
    const button = h("button", { className: "open", textContent: strings.button, hidden: !host.button || isOpen() });
    button.setAttribute("part", "button");
    button.setAttribute("aria-haspopup", "dialog");
    button.setAttribute("aria-controls", "panel");
    button.onclick = open;
    const close = h("button", { className: "close", textContent: "×", onclick: hide });
    close.setAttribute("aria-label", strings.close);
    const panel = h("section", { className: "panel", id: "panel", hidden: !isOpen() },
      h("header", {}, h("h2", { id: "title", textContent: strings.title, tabIndex: -1 }), close),
      ...PURPOSES.flatMap(toggle),
      h("h3", { textContent: strings.interests }),
      h("p", { className: "help", textContent: strings.interestsHelp }),
      h("fieldset", { className: "interests" }),
      h("h3", { textContent: strings.why }),
      h("div", { className: "why" }),
      h("div", { className: "actions" },
        h("button", { className: "download", textContent: strings.download, onclick: download }),
        h("button", { className: "forget secondary", textContent: strings.forget, onclick: forget })),
      h("p", { className: "status" }));
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-labelledby", "title");
    panel.setAttribute("part", "panel");
    root.replaceChildren(button, panel);
    ui = { button, panel, status: panel.querySelector(".status"), forget: panel.querySelector(".forget") };
  }

  const isOpen = () => ui !== null && !ui.panel.hidden;

  async function refresh() {
    const purposes = host.purposes();
    for (const purpose of PURPOSES) ui.panel.querySelector(`[name=${purpose}]`).checked = purposes[purpose];
    ui.forget.textContent = strings.forget;
    delete ui.forget.dataset.armed;
    showReasons();
    await showInterests(purposes.personalize);
  }

  async function showInterests(personalizing) {
    const fieldset = ui.panel.querySelector(".interests");
    const chosen = personalizing ? await host.interests() : [];
    const focused = root.activeElement?.value;
    fieldset.disabled = !personalizing;
    fieldset.setAttribute("aria-label", strings.interests);
    fieldset.replaceChildren(...host.interestChoices().map((feature) => {
      const input = h("input", { type: "checkbox", name: "interest", value: feature, checked: chosen.includes(feature) });
      input.onchange = () => {
        const picked = [...fieldset.querySelectorAll(":checked")].map((box) => box.value);
        host.interests(picked).then(refresh, failed);
      };
      return h("label", {}, input, interestLabel(feature));
    }));
    if (focused) fieldset.querySelector(`[value="${CSS.escape(focused)}"]`)?.focus();
  }

  // "Why am I seeing this": for each slot, the decision's reasons for what it shows.
  function showReasons() {
    ui.panel.querySelector(".why").replaceChildren(...host.decisions().map(({ slot, decision }) => {
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

  function mount() {
    if (root) return;
    const element = h("div", { id: "p13n-preferences" });
    root = element.attachShadow({ mode: "open" });
    styled(root);
    root.addEventListener("keydown", (event) => event.key === "Escape" && isOpen() && hide());
    build();
    document.body.append(element);
  }

  function open() {
    mount();
    if (isOpen()) return;
    opener = root.activeElement ?? document.activeElement;
    ui.panel.hidden = false;
    ui.button.hidden = true;
    ui.status.textContent = "";
    ui.panel.querySelector("h2").focus();
    return refresh().catch(failed);
  }

  function hide() {
    ui.panel.hidden = true;
    ui.button.hidden = !host.button;
    (opener?.isConnected && opener !== document.body ? opener : ui.button).focus();
  }

  return {
    mount,
    open,
    // A slot was decided: an open panel shows the new reasons.
    decided: () => isOpen() && showReasons(),
    setStrings(overrides) {
      if (typeof overrides !== "object" || overrides === null || Object.values(overrides).some((s) => typeof s !== "string")) {
        throw new TypeError("p13n.strings(strings) needs an object of strings, like {title: 'Ihre Einstellungen'}");
      }
      strings = { ...strings, ...overrides };
      if (root) {
        build();
        if (isOpen()) refresh();
      }
    },
  };
}
