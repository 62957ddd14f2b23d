/** A retrieved passage an answer may quote. */
export interface Passage {
  entryId: string;
  chunkId: string | null;
  title: string;
  content: string;
  score: number;
}

export interface ExtractiveAnswer {
  /** The quoted sentences, in source order within each passage. */
  sentences: Array<{ text: string; passage: number }>;
  /** Indices into the passages that the answer quotes, best first. */
  cited: number[];
  /** 0..1: how much of the question's weighted terms the evidence covers. */
  confidence: number;
}

/** Splits text into sentences on Latin and Arabic terminators and line breaks. */
export function splitSentences(text: string): string[] {
  return text
    .replace(/\r/g, '')
    .split(/(?<=[.!?؟۔…])\s+|\n+/u)
    .map((s) => s.replace(/^[#>*\-\s]+/u, '').trim())
    .filter((s) => s.length >= 3);
}

/**
 * Chooses the sentences of the retrieved passages that best answer a question, deterministically:
 * each question term is weighted by its rarity among the candidate sentences, a sentence scores the
 * weights of the terms it shares with the question plus a small bonus for its passage's rank, and
 * the best sentence (with a strong runner-up from the same passage) is quoted. `terms` must apply
 * the same normalisation as the search index and drop stop words.
 */
export function extractAnswer(question: string, passages: Passage[], terms: (text: string) => string[], opts: { maxSentences?: number; maxChars?: number } = {}): ExtractiveAnswer {
  const maxSentences = opts.maxSentences ?? 2;
  const maxChars = opts.maxChars ?? 600;
  const qTerms = [...new Set(terms(question))];
  if (qTerms.length === 0 || passages.length === 0) return { sentences: [], cited: [], confidence: 0 };

  const candidates: Array<{ text: string; passage: number; order: number; terms: Set<string> }> = [];
  passages.forEach((p, pi) => {
    splitSentences(p.content).forEach((text, order) => candidates.push({ text, passage: pi, order, terms: new Set(terms(text)) }));
  });
  if (candidates.length === 0) return { sentences: [], cited: [], confidence: 0 };

  const n = candidates.length;
  const weight = new Map<string, number>();
  for (const t of qTerms) {
    const df = candidates.reduce((acc, c) => acc + (c.terms.has(t) ? 1 : 0), 0);
    weight.set(t, Math.log(1 + (n + 1) / (df + 0.5)));
  }
  const total = [...weight.values()].reduce((a, b) => a + b, 0) || 1;

  const scored = candidates.map((c) => {
    let s = 0;
    for (const t of qTerms) if (c.terms.has(t)) s += weight.get(t)!;
    // Earlier passages were ranked higher by retrieval: a small tie-breaking preference.
    return { ...c, score: s / total + 0.08 / (c.passage + 1) };
  });
  scored.sort((a, b) => b.score - a.score || a.passage - b.passage || a.order - b.order);
  const best = scored[0]!;
  if (best.score <= 0.08 / (best.passage + 1)) return { sentences: [], cited: [], confidence: 0 };

  const chosen = [best];
  let chars = best.text.length;
  for (const c of scored.slice(1)) {
    if (chosen.length >= maxSentences) break;
    if (c.passage !== best.passage || c.score < best.score * 0.6) continue;
    if (chars + c.text.length > maxChars) continue;
    chosen.push(c);
    chars += c.text.length;
  }
  chosen.sort((a, b) => a.passage - b.passage || a.order - b.order);

  // Confidence: weighted share of the question the quoted evidence covers, tempered by how much of
  // it the best passage as a whole covers (a sentence may cover little while its passage covers all).
  const coveredBy = (set: Set<string>) => qTerms.reduce((acc, t) => acc + (set.has(t) ? weight.get(t)! : 0), 0) / total;
  const quoted = new Set(chosen.flatMap((c) => [...c.terms]));
  const passageTerms = new Set(terms(`${passages[best.passage]!.title}\n${passages[best.passage]!.content}`));
  const confidence = Math.min(1, 0.6 * coveredBy(quoted) + 0.4 * coveredBy(passageTerms));

  const cited = [...new Set(chosen.map((c) => c.passage))];
  return { sentences: chosen.map((c) => ({ text: c.text, passage: c.passage })), cited, confidence: Math.round(confidence * 1000) / 1000 };
}
