// What the engine may know about this visit. Coarse on purpose: no fingerprinting.

const SEARCH = /(^|\.)(google|bing|duckduckgo|yahoo|ecosia|qwant|baidu|yandex)\./;
const SOCIAL = /(^|\.)(facebook|instagram|linkedin|reddit|pinterest|tiktok|youtube|x|twitter|t)\.(com|co)$/;

function deviceClass(width) {
  if (width < 768) return "mobile";
  if (width < 1024) return "tablet";
  return "desktop";
}

function referrerKind(referrer, here) {
  if (!referrer) return "direct";
  const host = new URL(referrer).hostname;
  if (host === here) return "internal";
  if (SEARCH.test(host)) return "search";
  if (SOCIAL.test(host)) return "social";
  return "other";
}

export function visitContext(pageType) {
  const now = new Date();
  const context = {
    device: deviceClass(window.innerWidth),
    hour: now.getHours(),
    weekday: now.getDay(),
    referrer: referrerKind(document.referrer, location.hostname),
  };
  if (pageType) context.page = pageType;
  return context;
}
