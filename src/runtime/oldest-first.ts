/**
 * Bounded memories kept in a Map, oldest first (a Map keeps insertion order; an entry renewed is
 * deleted and set again). Walked with the iterator's next() rather than for…of: vendored into a
 * project whose tsconfig has `target: "es5"`, for…of over a Map needs `downlevelIteration`.
 */

/** Calls `drop` on `map`'s oldest entries while `expired` says so; stops at the first it keeps. */
function dropOldest<K, V>(map: Map<K, V>, expired: (value: V, key: K) => boolean, drop: (key: K, value: V) => void = (key) => map.delete(key)): void {
  const entries = map.entries();
  for (let next = entries.next(); !next.done; next = entries.next()) {
    const [key, value] = next.value;
    if (!expired(value, key)) return;
    drop(key, value);
  }
}

export { dropOldest };
