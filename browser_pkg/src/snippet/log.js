// The snippet never throws into the host page: failures are logged, defaults stay.

export function logError(what, error) {
  console.error(`[p13n] ${what}:`, error);
}

export function logWarning(message) {
  console.warn(`[p13n] ${message}`);
}

export function guarded(what, fn) {
  return (...args) => {
    try {
      const result = fn(...args);
      return result instanceof Promise ? result.catch((error) => logError(what, error)) : result;
    } catch (error) {
      logError(what, error);
    }
  };
}
