import { describe, expect, it } from 'vitest';
import { terms } from '../../platform/text/tokens.ts';
import { CANDIDATE_LIMITS, PassageScorer, candidatePlan, chunkText, fuseRankings, lexicalCoverage, passageTerms, snippetOf } from './query.retrieval.ts';

const idfOf = (entries: Record<string, number>) => new Map(Object.entries(entries));

describe('passageTerms', () => {
  it('stores the title twice, then one segment per sentence, and counts terms without separators', () => {
    const { stored, count } = passageTerms(terms('Pump care'), { heading: 'Weekly', content: 'Lubricate the pumps. Check the gauge!\nLog it' });
    expect(stored).toBe('pump care pump care weekly . lubricat pump . check gaug . log');
    expect(count).toBe(10);
  });

  it('keeps an empty title segment so that sentences stay apart from it', () => {
    expect(passageTerms([], { heading: null, content: 'يجب فحص الصمام.' }).stored).toBe(' . يجب فحص صمام');
  });
});

describe('PassageScorer', () => {
  const idf = idfOf({ pump: 2, valve: 2, gaug: 3 });

  it('finds whole tokens only, and scores nothing without a match', () => {
    const s = new PassageScorer(['pump'], idf, 10);
    expect(s.score(' . pumping pumpx', 2)).toBe(0);
    expect(s.score(' . pump', 1)).toBeGreaterThan(0);
  });

  it('ranks terms held together in one sentence above the same terms scattered over two', () => {
    const s = new PassageScorer(['pump', 'valve'], idf, 6);
    const together = s.score(' . pump x valve . y z w', 6);
    const apart = s.score(' . pump x y . valve z w', 6);
    expect(together).toBeGreaterThan(apart);
  });

  it('adds a bonus for consecutive question terms that stand next to each other, in either order', () => {
    const s = new PassageScorer(['pump', 'gaug'], idf, 6);
    const adjacent = s.score(' . x pump gaug y', 4);
    const reversed = s.score(' . x gaug pump y', 4);
    const separated = s.score(' . pump x gaug y', 4);
    expect(adjacent).toBeGreaterThan(separated);
    expect(reversed).toBeCloseTo(adjacent, 10);
  });

  it('does not let a long passage win by its length (BM25 length normalisation)', () => {
    const s = new PassageScorer(['pump'], idf, 10);
    const short = s.score(' . pump a b c', 4);
    const long = s.score(` . pump ${'a '.repeat(60).trim()}`, 61);
    expect(short).toBeGreaterThan(long);
  });

  it('ignores title matches in the sentence bonus but counts them in BM25', () => {
    const s = new PassageScorer(['pump', 'valve'], idf, 6);
    const inTitle = s.score('pump valve . a b', 4);
    const inSentence = s.score(' . pump valve a b', 4);
    expect(inSentence).toBeGreaterThan(inTitle);
    expect(inTitle).toBeGreaterThan(0);
  });
});

describe('candidatePlan', () => {
  const limits = { ...CANDIDATE_LIMITS, rarePostings: 100, pairTerms: 3, pairMaxShare: 0.5, pairRows: 1000, minPairs: 1 };

  it('ORs every term when the index is small', () => {
    const plan = candidatePlan([{ term: 'a', df: 3 }, { term: 'b', df: 5 }], 1000, limits);
    expect(plan).toEqual({ tsquery: "'a' | 'b'", rest: [] });
  });

  it('ORs the rarest terms within the budget and pairs the next ones', () => {
    const plan = candidatePlan(
      [
        { term: 'common', df: 400 },
        { term: 'rare', df: 10 },
        { term: 'mid', df: 85 },
        { term: 'often', df: 300 },
        { term: 'everywhere', df: 900 },
      ],
      1000,
      limits,
    );
    // rare + mid fit in 100 postings (95); common, often and everywhere remain; everywhere is in 90% of passages.
    expect(plan.tsquery).toBe("'rare' | 'mid' | ('often' & 'common')");
    expect(plan.rest).toEqual(['often', 'common', 'everywhere']);
  });

  it('takes the pairs expected to select fewest rows first, within the row budget but never fewer than the minimum', () => {
    const dfs = [
      { term: 'a', df: 200 },
      { term: 'b', df: 300 },
      { term: 'c', df: 400 },
      { term: 'd', df: 450 },
    ];
    const plan = (pairRows: number, minPairs: number) => candidatePlan(dfs, 1000, { ...limits, rarePostings: 0, pairTerms: 4, pairRows, minPairs }).tsquery;
    // Expected rows: ab 60, ac 80, ad 90, bc 120, bd 135, cd 180.
    expect(plan(150, 1)).toBe("('a' & 'b') | ('a' & 'c')");
    expect(plan(0, 3)).toBe("('a' & 'b') | ('a' & 'c') | ('a' & 'd')");
    expect(plan(10_000, 1).split(' | ')).toHaveLength(6);
  });

  it('falls back to the rarest term when only one common term is left', () => {
    expect(candidatePlan([{ term: 'x', df: 900 }], 1000, limits).tsquery).toBe("'x'");
    expect(candidatePlan([{ term: 'x', df: 0 }], 1000, limits).tsquery).toBe('');
  });

  it('quotes terms so that none is read as a tsquery operator', () => {
    expect(candidatePlan([{ term: "o'k", df: 1 }], 10, limits).tsquery).toBe("'o''k'");
  });
});

describe('chunkText', () => {
  it('follows headings and cuts long paragraphs at sentences', () => {
    const long = Array.from({ length: 120 }, (_, i) => `Sentence number ${i} is here.`).join(' ');
    const chunks = chunkText(`# Intro\n\nShort text.\n\n# Details\n\n${long}`);
    expect(chunks[0]).toMatchObject({ heading: 'Intro', content: 'Short text.' });
    expect(chunks.slice(1).every((c) => c.heading === 'Details' && c.content.length <= 1200)).toBe(true);
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.slice(1).map((c) => c.content).join(' ')).toBe(long);
  });
});

describe('lexicalCoverage', () => {
  const idf = (t: string) => ({ pump: 1, valv: 3 })[t] ?? 5;

  it('is the IDF mass of the question terms the passage holds over that of all of them', () => {
    expect(lexicalCoverage(['pump', 'valv'], idf, 'pump care . valv . x')).toBe(1);
    expect(lexicalCoverage(['pump', 'valv'], idf, 'pump care . x')).toBeCloseTo(1 / 4);
    expect(lexicalCoverage(['pump', 'pump', 'valv'], idf, 'valv')).toBeCloseTo(3 / 4);
  });

  it('counts terms the index never saw at their full weight, and is 0 for no terms', () => {
    expect(lexicalCoverage(['pump', 'مضخة'], idf, 'pump')).toBeCloseTo(1 / 6);
    expect(lexicalCoverage([], idf, 'pump')).toBe(0);
  });
});

describe('fuseRankings', () => {
  const lexical = ['a', 'b', 'c'].map((id) => ({ entryId: id, chunkId: `${id}1` }));
  const dense = ['c', 'c', 'd', 'b'].map((id, i) => ({ entry_id: id, chunk_id: `${id}${i + 2}` }));
  const order = (coverage: number) => fuseRankings(lexical, dense, coverage).map((r) => r.entryId);

  it('keeps the lexical order when the best passage holds the whole question', () => {
    expect(order(1)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('ranks by the dense order when the index holds none of the question, lexical-only entries last', () => {
    expect(order(0)).toEqual(['c', 'd', 'b', 'a']);
  });

  it('weighs both sides in between, and keeps the lexical passage of an entry both found', () => {
    const fused = fuseRankings(lexical, dense, 0.5);
    expect(fused.map((r) => r.entryId)).toEqual(['c', 'b', 'a', 'd']);
    expect(fused.find((r) => r.entryId === 'c')?.chunkId).toBe('c1');
    expect(fused.find((r) => r.entryId === 'd')?.chunkId).toBe('d4');
  });
});

describe('snippetOf', () => {
  it('shows the sentence holding most question terms, with the words as written that matched', () => {
    const content = 'The chiller is on the roof. Its coolant pump is checked weekly by the night shift. Nothing else.';
    const { snippet, highlights } = snippetOf(content, new Set(terms('when is the coolant pump checked')));
    expect(snippet.startsWith('Its coolant pump is checked weekly')).toBe(true);
    expect(highlights).toEqual(['coolant', 'pump', 'checked']);
  });

  it('highlights a vocalised Arabic word whole', () => {
    const { highlights } = snippetOf('تم تبديل المُضَخَّة أمس في المحطة.', new Set(terms('مضخة')));
    expect(highlights).toEqual(['المُضَخَّة']);
  });
});
