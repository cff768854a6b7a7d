/**
 * Where `key` belongs in `sorted` (ascending by `keyOf`): the first position whose key is not below
 * it. For the in-memory stores' sorted lists, so an insert or a lookup is a binary search.
 */
export function firstAtOrAbove<T, K extends string | number>(sorted: readonly T[], key: K, keyOf: (item: T) => K): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (keyOf(sorted[mid]!) < key) low = mid + 1;
    else high = mid;
  }
  return low;
}
