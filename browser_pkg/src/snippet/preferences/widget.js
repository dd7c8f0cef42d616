// The visitors' preferences widget: a floating button in a Shadow DOM (the page's CSS cannot
// break it, and its CSS cannot touch the page), inside an <aside> landmark named after it. A
// module of its own (widget.HASH.js), which the snippet loads once it has found the page's
// slots: painting them needs none of it. The panel behind the button (panel.js, several
// times the button's size) is another, loaded when the visitor first opens it, or when a
// new policy version must ask them: visitors who never open it never download it.
//
// `host` is what the snippet lends the panel (panel.js lists it); `url` the panel's module.

import { lazy } from "../lazy.js";
import { logError } from "../log.js";

const BUTTON = "Personalization"; // the panel's words are in strings.js, loaded with it
// The button's look. Sites restyle it with CSS custom properties on the page (they pass into
// the shadow root), or with ::part(button).
const STYLES = `
:host { all: initial; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
.open {
  position: fixed; right: var(--p13n-offset, 1rem); bottom: var(--p13n-offset, 1rem); z-index: var(--p13n-z-index, 2147483000);
  font: var(--p13n-font, 14px/1.4 system-ui, sans-serif); cursor: pointer; border: 0; border-radius: var(--p13n-radius, 8px);
  padding: .5em 1em; background: var(--p13n-accent, #2f6f4f); color: var(--p13n-on-accent, #fff); box-shadow: 0 2px 8px #0003;
}
:focus-visible { outline: 3px solid var(--p13n-focus, #1a73e8); outline-offset: 2px; }
`;

// A constructed stylesheet where there is one: a strict style-src allows it.
function styled(root) {
  if (root.adoptedStyleSheets) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLES);
    root.adoptedStyleSheets = [sheet];
  } else {
    root.append(Object.assign(document.createElement("style"), { textContent: STYLES }));
  }
}

export function preferencesWidget(host, url) {
  let overrides = {};
  let aside = null;
  let root = null;
  let button = null;
  const module = lazy(url); // the panel's
  let panel = null;

  function mount() {
    if (root) return;
    aside = document.createElement("aside");
    aside.id = "p13n-preferences";
    root = aside.attachShadow({ mode: "open" });
    styled(root);
    button = Object.assign(document.createElement("button"), { className: "open", hidden: !host.button, onclick: open });
    button.setAttribute("part", "button");
    button.setAttribute("aria-haspopup", "dialog");
    root.append(button);
    label();
    document.body.append(aside);
    if (host.outdated()) open(); // the visitor is asked to confirm their choices under the new policy
  }

  function label() {
    button.textContent = overrides.button ?? BUTTON;
    aside.setAttribute("aria-label", button.textContent);
  }

  async function open() {
    mount();
    try {
      const { preferencesPanel } = await module();
      panel ??= preferencesPanel({ root, button, host, overrides });
      return await panel.open();
    } catch (error) {
      logError("the preferences panel could not load", error);
    }
  }

  return {
    mount,
    open,
    // A slot was decided: an open panel shows the new reasons.
    decided: () => panel?.decided(),
    setStrings(changes) {
      if (typeof changes !== "object" || changes === null || Object.values(changes).some((s) => typeof s !== "string")) {
        throw new TypeError("p13n.strings(strings) needs an object of strings, like {title: 'Ihre Einstellungen'}");
      }
      overrides = { ...overrides, ...changes };
      if (root) label();
      panel?.setStrings(overrides);
    },
  };
}
