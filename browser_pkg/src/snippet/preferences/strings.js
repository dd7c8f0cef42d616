// The panel's words, in English. A site translates them with p13n.strings({...}): any key
// below, `button` (the floating button's label, "Personalization": widget.js keeps it, as the
// snippet shows the button before this file loads), and a label for any interest by its
// feature (e.g. {"topic:hiking": "Wandern"}). `{error}` in `failed` is replaced with what went wrong.

export const STRINGS = {
  title: "Your personalization",
  close: "Close",
  policyChanged: "Our privacy policy has changed. Your choices still apply until you confirm or change them.",
  confirm: "Confirm my choices",
  confirmed: "Your choices are saved.",
  personalize: "Personalize this site for me",
  personalizeHelp: "Ranks content on this device, from what you click here. Off: the site's own order, and nothing is learned.",
  improve: "Help improve recommendations",
  // tests/browser/test_words_and_wire.py checks these two against what is sent.
  improveHelp: "From now on, sends our server what this device learns: a change to the model's weights, limited in size, " +
    "with how many examples it came from and which version of the site's model it builds on; how often each item was " +
    "shown and clicked here (and how often a click led to a purchase or sign-up, where the site counts them), and " +
    "whether it was ranked for you; a random number per update, so a retry counts once; and " +
    "a one-time token that lets one device take part once a round: this device asks for it under your random id, and " +
    "it is made so that our server cannot tell which device spends it. " +
    "Updates carry no id, cookie or list of what you did, and our server adds noise before it publishes anything. " +
    "Your choice is kept on our server under a random id, as proof of consent.",
  sync: "Sync my profile",
  syncHelp: "Keeps your interests, the kinds of content you looked at and clicked (fading over time) and your choices " +
    "on our server, under a random id and a secret that only your devices hold, for your other devices.",
  otherDevice: "Use on another device",
  codeNeedsSync: "Turn on sync to get a code for your other devices.",
  showCode: "Show my sync code",
  yourCode: "Your sync code",
  codeHelp: "Enter it on your other device. Anyone with it can see and erase your profile: keep it private.",
  copy: "Copy",
  copied: "The code is copied.",
  copyByHand: "Select the code and copy it.",
  enterCode: "Code from your other device",
  useCode: "Use this code",
  codeUsed: "Your profile from your other device is in use here.",
  codeMalformed: "That is not a sync code.",
  codeUnknown: "No profile opens with that code: it is mistyped, or the profile was erased.",
  codeEmpty: "Nothing is synced under that code yet.",
  interests: "Your interests",
  interestsHelp: "Pick what you like: it counts at once.",
  variety: "Show me more variety",
  varietyHelp: "Fewer items alike side by side, and now and then something you would not have picked.",
  why: "Why am I seeing this?",
  siteOrder: "In the site's own order.",
  noReason: "Nothing learned about it yet: shown to find out what you like.",
  download: "Download my data",
  forget: "Forget me",
  forgetConfirm: "Click again to erase everything, here and on our server",
  downloaded: "Your data is downloaded.",
  forgotten: "Everything kept about you is erased.",
  failed: "That did not work: {error}",
};
