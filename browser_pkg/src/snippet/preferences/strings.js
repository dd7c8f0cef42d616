// The widget's words, in English. A site translates them with p13n.strings({...}): any key
// below, and a label for any interest by its feature (e.g. {"topic:hiking": "Wandern"}).
// `{error}` in `failed` is replaced with what went wrong.

export const STRINGS = {
  button: "Personalization",
  title: "Your personalization",
  close: "Close",
  personalize: "Personalize this site for me",
  personalizeHelp: "Ranks content on this device, from what you click here. Off: the site's own order, and nothing is learned.",
  improve: "Help improve recommendations",
  improveHelp: "Sends anonymous, noisy model updates to our server; never what you clicked.",
  sync: "Sync my profile",
  syncHelp: "Keeps your interests and tastes on our server, for your other devices.",
  interests: "Your interests",
  interestsHelp: "Pick what you like: it counts at once.",
  why: "Why am I seeing this?",
  siteOrder: "In the site's own order.",
  noReason: "Popular right now",
  download: "Download my data",
  forget: "Forget me",
  forgetConfirm: "Click again to erase everything, here and on our server",
  downloaded: "Your data is downloaded.",
  forgotten: "Everything kept about you is erased.",
  failed: "That did not work: {error}",
};
