/** The key that makes two questions "the same": their normalised terms, de-duplicated and sorted. */
export function gapKey(terms: string[]): string {
  return [...new Set(terms)].sort().join(' ');
}

/** Jaccard similarity of two term sets. */
export function jaccard(a: readonly string[], b: readonly string[]): number {
  const sa = new Set(a);
  const sb = new Set(b);
  if (sa.size === 0 && sb.size === 0) return 1;
  let inter = 0;
  for (const t of sa) if (sb.has(t)) inter += 1;
  return inter / (sa.size + sb.size - inter);
}

/** Two questions whose term sets overlap at least this much count as one knowledge gap. */
export const GAP_SIMILARITY = 0.75;

/** The most similar open gap at or above the threshold, if any. */
export function closestGap<T extends { terms: string[]; normalized: string }>(terms: string[], open: T[]): T | undefined {
  const key = gapKey(terms);
  let best: { gap: T; sim: number } | undefined;
  for (const g of open) {
    const sim = g.normalized === key ? 1 : jaccard(terms, g.terms);
    if (sim >= GAP_SIMILARITY && (!best || sim > best.sim)) best = { gap: g, sim };
  }
  return best?.gap;
}
