// A module of the bundle loaded with import() only when first needed: pages that never need
// it never download it. The function returned resolves with `make(module)`, made once; a
// failed load is tried again on the next call (offline, perhaps).

export function lazy(url, make = (module) => module) {
  let loading = null;
  return () => (loading ??= import(url).then(make).catch((error) => {
    loading = null;
    throw error;
  }));
}
