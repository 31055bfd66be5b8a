// Helpers for slices keyed by id (plain objects, never mutated).

// The slice without `key`: the same object when it has none (reducers return it unchanged).
export function without(slice, key) {
  if (!slice[key]) return slice;
  const next = { ...slice };
  delete next[key];
  return next;
}
