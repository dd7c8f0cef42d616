// The panel's look (the floating button's is in widget.js). Sites restyle it with CSS custom
// properties on the page (they pass into the shadow root), or with ::part(panel). The panel
// is a modal <dialog>: it sits in the top layer, above any z-index, over a backdrop that dims
// the page.

export const STYLES = `
.panel { font: var(--p13n-font, 14px/1.4 system-ui, sans-serif); color: var(--p13n-text, #1f2a24); }
.panel button {
  font: inherit; cursor: pointer; border: 0; border-radius: var(--p13n-radius, 8px);
  padding: .5em 1em; background: var(--p13n-accent, #2f6f4f); color: var(--p13n-on-accent, #fff);
}
.panel {
  width: min(26rem, calc(100vw - 2rem)); max-height: calc(100vh - 2rem); overflow: auto; padding: 1rem; border: 0;
  background: var(--p13n-background, #fff); border-radius: var(--p13n-radius, 8px); box-shadow: 0 4px 24px #0004;
}
.panel::backdrop { background: var(--p13n-backdrop, #0006); }
header { display: flex; justify-content: space-between; align-items: center; gap: 1rem; }
h2 { font-size: 1.15em; margin: 0; } h3 { font-size: 1em; margin: 1em 0 .3em; }
label { display: flex; gap: .5em; align-items: baseline; font-weight: 600; margin-top: .75em; }
fieldset { border: 0; padding: 0; margin: 0; }
fieldset label { display: inline-flex; font-weight: normal; margin: .25em 1em 0 0; }
.help, .status, li { font-size: .9em; opacity: .85; margin: .2em 0 0; }
.notice { margin-top: .75em; padding: .75em; border-radius: var(--p13n-radius, 8px); outline: 2px solid var(--p13n-accent, #2f6f4f); }
.notice p { margin: 0 0 .5em; }
details { margin-top: .5em; } summary { cursor: pointer; }
.row { display: flex; gap: .5em; margin-top: .4em; }
input[type=text] { flex: 1; min-width: 0; font: inherit; padding: .4em; border: 1px solid currentColor; border-radius: 4px; }
ul { padding-left: 1.2em; margin: .2em 0; }
.actions { display: flex; flex-wrap: wrap; gap: .5em; margin-top: 1em; }
.panel .close, .panel .secondary { background: transparent; color: inherit; outline: 1px solid currentColor; }
`;
