import { and, eq, inArray, ne, sql } from 'drizzle-orm';
import type { Deps } from '../../app.ts';
import { knowledgeEntries, searchChunks } from '../../db/schema/index.ts';
import { queryRows, type Db, type Tx } from '../../platform/db/client.ts';
import { newId } from '../../platform/db/ids.ts';
import { detectLanguage } from '../../platform/text/language.ts';
import { ANALYZER_VERSION, terms } from '../../platform/text/tokens.ts';
import type { Jobs } from '../../platform/jobs/jobs.ts';
import { splitSentences } from './answer.ts';
import { DenseIndex } from './query.dense.ts';
import type { EntryFilters, Retriever, SearchHit, TextTools } from './query.service.ts';

/** A passage of an entry, with the heading it sits under. */
export interface Chunk {
  ordinal: number;
  heading: string | null;
  content: string;
}

const TARGET_CHARS = 1200;

/** Splits Markdown or plain text into passages that follow headings and paragraphs. */
export function chunkText(content: string): Chunk[] {
  const chunks: Chunk[] = [];
  let heading: string | null = null;
  let buf: string[] = [];
  let size = 0;
  const flush = () => {
    const text = buf.join('\n\n').trim();
    if (text) chunks.push({ ordinal: chunks.length, heading, content: text });
    buf = [];
    size = 0;
  };
  for (const block of content.replace(/\r/g, '').split(/\n\s*\n/)) {
    const lines = block.split('\n');
    for (const line of lines) {
      const h = /^#{1,6}\s+(.*)$/.exec(line.trim());
      if (h) {
        flush();
        heading = h[1]!.trim();
      }
    }
    const body = lines.filter((l) => !/^#{1,6}\s+/.test(l.trim())).join('\n').trim();
    if (!body) continue;
    if (size > 0 && size + body.length > TARGET_CHARS) flush();
    if (body.length > TARGET_CHARS * 2) {
      // A very long paragraph is cut at sentence boundaries.
      let part = '';
      for (const s of splitSentences(body)) {
        if (part && part.length + s.length > TARGET_CHARS) {
          buf.push(part);
          flush();
          part = '';
        }
        part = part ? `${part} ${s}` : s;
      }
      if (part) {
        buf.push(part);
        size += part.length;
      }
      continue;
    }
    buf.push(body);
    size += body.length;
  }
  flush();
  return chunks;
}

/** Separates the segments of a passage's stored terms; the text search parser reads it as a blank. */
const SEGMENT = '.';
const SEGMENT_GAP = ` ${SEGMENT} `;

/**
 * A passage's terms as stored: the title's terms (twice, so a title match weighs more) and the heading's,
 * then each sentence's, segments separated by SEGMENT so that ranking can tell which terms share a sentence.
 */
export function passageTerms(titleTerms: string[], chunk: Pick<Chunk, 'heading' | 'content'>): { stored: string; count: number } {
  const head = [...titleTerms, ...titleTerms, ...terms(chunk.heading ?? '')];
  const sentences = chunk.content
    .split(/(?<=[.!?؟۔…])\s+|\n+/u)
    .map((x) => terms(x))
    .filter((x) => x.length > 0);
  const count = head.length + sentences.reduce((a, x) => a + x.length, 0);
  return { stored: [head, ...sentences].map((x) => x.join(' ')).join(SEGMENT_GAP), count };
}

/** The distinct terms of a passage's `terms` column. */
function distinctTerms(stored: string): Set<string> {
  return new Set(stored.split(' ').filter((t) => t !== '' && t !== SEGMENT));
}

/** Locks the organisation's statistics row: index writes within one organisation take turns, keeping the statistics exact. */
async function lockStats(tx: Tx, orgId: string): Promise<void> {
  // A new organisation's index starts empty, so it is of the current analyzer version.
  await tx.execute(sql`INSERT INTO search_stats (org_id, analyzer) VALUES (${orgId}, ${ANALYZER_VERSION}) ON CONFLICT (org_id) DO UPDATE SET chunks = search_stats.chunks`);
}

/**
 * Replaces the indexed passages of many entries in one transaction (reindexing, imports), and moves
 * the organisation's term statistics by exactly what was removed and added.
 */
export async function indexEntries(db: Db, orgId: string, entryIds: string[]): Promise<number> {
  if (entryIds.length === 0) return 0;
  return db.transaction(async (t) => {
    const tx = t as unknown as Tx;
    await lockStats(tx, orgId);
    const removed = await tx
      .delete(searchChunks)
      .where(and(eq(searchChunks.orgId, orgId), inArray(searchChunks.entryId, entryIds)))
      .returning({ terms: searchChunks.terms, termCount: searchChunks.termCount });
    const entries = await tx
      .select()
      .from(knowledgeEntries)
      .where(and(eq(knowledgeEntries.orgId, orgId), inArray(knowledgeEntries.id, entryIds), ne(knowledgeEntries.status, 'archived')));
    const rows: Array<typeof searchChunks.$inferInsert> = [];
    for (const e of entries) {
      const titleTerms = terms(e.title);
      const chunks = chunkText(`${e.summary ? `${e.summary}\n\n` : ''}${e.content}`);
      if (chunks.length === 0) chunks.push({ ordinal: 0, heading: null, content: e.title });
      for (const c of chunks) {
        const { stored, count } = passageTerms(titleTerms, c);
        rows.push({ id: newId(), orgId, entryId: e.id, ordinal: c.ordinal, heading: c.heading, content: c.content, terms: stored, termCount: count });
      }
    }
    for (let i = 0; i < rows.length; i += 500) await tx.insert(searchChunks).values(rows.slice(i, i + 500));

    const delta = new Map<string, number>();
    for (const r of removed) for (const term of distinctTerms(r.terms)) delta.set(term, (delta.get(term) ?? 0) - 1);
    for (const r of rows) for (const term of distinctTerms(r.terms)) delta.set(term, (delta.get(term) ?? 0) + 1);
    const changed = [...delta].filter(([, d]) => d !== 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (changed.length > 0) {
      await tx.execute(sql`
        INSERT INTO search_terms (org_id, term, df)
        SELECT ${orgId}, x.term, x.d FROM unnest(${sql.param(changed.map(([term]) => term))}::text[], ${sql.param(changed.map(([, d]) => d))}::int[]) AS x(term, d)
        ON CONFLICT (org_id, term) DO UPDATE SET df = search_terms.df + excluded.df`);
      const fallen = changed.filter(([, d]) => d < 0).map(([term]) => term);
      if (fallen.length > 0) await tx.execute(sql`DELETE FROM search_terms WHERE org_id = ${orgId} AND term = ANY(${sql.param(fallen)}::text[]) AND df <= 0`);
    }
    const dChunks = rows.length - removed.length;
    const dTerms = rows.reduce((a, r) => a + r.termCount, 0) - removed.reduce((a, r) => a + r.termCount, 0);
    if (dChunks !== 0 || dTerms !== 0) await tx.execute(sql`UPDATE search_stats SET chunks = chunks + ${dChunks}, terms = terms + ${dTerms} WHERE org_id = ${orgId}`);
    return rows.length;
  });
}

/**
 * Drops passages whose entry is archived or gone, then recomputes the organisation's statistics from
 * its passages; the last step of a rebuild (which has re-indexed every entry with the current analyzer,
 * so the index is marked as of that version), and the repair for any drift.
 */
export async function refreshIndexStatistics(db: Db, orgId: string): Promise<{ chunks: number; terms: number }> {
  return db.transaction(async (t) => {
    const tx = t as unknown as Tx;
    await lockStats(tx, orgId);
    await tx.execute(sql`
      DELETE FROM search_chunks c
       WHERE c.org_id = ${orgId}
         AND NOT EXISTS (SELECT 1 FROM knowledge_entries e WHERE e.id = c.entry_id AND e.org_id = ${orgId} AND e.status <> 'archived')`);
    await tx.execute(sql`DELETE FROM search_terms WHERE org_id = ${orgId}`);
    await tx.execute(sql`
      INSERT INTO search_terms (org_id, term, df)
      SELECT ${orgId}, x.term, count(DISTINCT c.id)
        FROM search_chunks c, unnest(string_to_array(c.terms, ' ')) AS x(term)
       WHERE c.org_id = ${orgId} AND x.term NOT IN ('', ${SEGMENT})
    GROUP BY x.term`);
    const [s] = await queryRows<{ chunks: number; terms: number }>(
      tx,
      sql`UPDATE search_stats SET (chunks, terms) = (SELECT count(*), coalesce(sum(term_count), 0) FROM search_chunks WHERE org_id = ${orgId}), analyzer = ${ANALYZER_VERSION}
           WHERE org_id = ${orgId} RETURNING chunks, terms::float8 AS terms`,
    );
    return { chunks: s?.chunks ?? 0, terms: s?.terms ?? 0 };
  });
}

/**
 * Queues a rebuild for every organisation whose index was made by another analyzer version and has none
 * queued or running; returns how many. Nodes starting together take turns, so each organisation gets one.
 */
export async function reindexStaleOrganisations(db: Db, jobs: Jobs): Promise<number> {
  return db.transaction(async (t) => {
    const tx = t as unknown as Tx;
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext('tadween.search-analyzer'))`);
    const stale = await queryRows<{ org_id: string }>(
      tx,
      sql`SELECT s.org_id FROM search_stats s
           WHERE s.analyzer <> ${ANALYZER_VERSION}
             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.org_id = s.org_id AND j.kind = 'search.reindex' AND j.status IN ('queued', 'running'))`,
    );
    for (const { org_id } of stale) await jobs.enqueue(tx, { kind: 'search.reindex', orgId: org_id, payload: { orgId: org_id } });
    return stale.length;
  });
}

const K1 = 1.2;
const B = 0.75;
/** How candidate passages are chosen for scoring (see candidatePlan). */
export interface CandidateLimits {
  /** The rarest question terms are OR-ed until their document frequencies add up to this. */
  rarePostings: number;
  /** Of the terms left, this many (the rarest) may pair up: a pair pulls in the passages that hold both. */
  pairTerms: number;
  /** A term in more than this share of the passages is too common to form a pair. */
  pairMaxShare: number;
  /** Pairs are taken cheapest first (rows expected if the two terms were independent) until they add up to this... */
  pairRows: number;
  /** ...but never fewer pairs than this, when there are that many. */
  minPairs: number;
  /** Candidate rows read per query at most (a safety net for questions made only of common words). */
  maxRows: number;
  /** Rows read at most when widening because filters or rare terms left fewer results than asked for. */
  widenRows: number;
}

/**
 * Chosen with `npm run bench:retrieval -- --distractors 100000`: at 100,000 passages the results match
 * those of scoring every passage that shares a term with the question (Recall@10 .971 English, .954
 * Arabic, against .972 and .953), while reading about a thousand rows instead of tens of thousands.
 * Pairs did more for recall than rare terms did: three fixed pairs and 1,000 rare postings lost .01 of
 * Recall@10 and were slower.
 */
export const CANDIDATE_LIMITS: CandidateLimits = { rarePostings: 500, pairTerms: 6, pairMaxShare: 0.2, pairRows: 1000, minPairs: 3, maxRows: 5000, widenRows: 1000 };

/**
 * Which passages are worth scoring for a question, as a tsquery over the GIN index: every passage that
 * holds one of the rarest terms (within `rarePostings`), or both terms of a pair among the next
 * `pairTerms` terms, the pairs expected to select fewest rows first (`pairRows`, at least `minPairs`).
 * A passage that holds only common terms, one each, rarely outranks one that holds a rare term or a
 * pair, so it is not read; every candidate is still scored over all of the question's terms. `rest` are
 * the terms that selected nothing alone, for widening when filters leave too few results.
 */
export function candidatePlan(dfs: ReadonlyArray<{ term: string; df: number }>, passages: number, limits: CandidateLimits = CANDIDATE_LIMITS): { tsquery: string; rest: string[] } {
  const sorted = dfs.filter((d) => d.df > 0).sort((a, b) => a.df - b.df || (a.term < b.term ? -1 : 1));
  const any: string[] = [];
  let used = 0;
  let i = 0;
  for (; i < sorted.length && used + sorted[i]!.df <= limits.rarePostings; i++) {
    any.push(sorted[i]!.term);
    used += sorted[i]!.df;
  }
  const pairable = sorted
    .slice(i)
    .filter((d) => d.df <= limits.pairMaxShare * passages)
    .slice(0, limits.pairTerms);
  const candidates: Array<{ a: string; b: string; est: number }> = [];
  for (let a = 0; a < pairable.length; a++) {
    for (let b = a + 1; b < pairable.length; b++) candidates.push({ a: pairable[a]!.term, b: pairable[b]!.term, est: (pairable[a]!.df * pairable[b]!.df) / Math.max(1, passages) });
  }
  candidates.sort((x, y) => x.est - y.est);
  const pairs: string[] = [];
  let est = 0;
  for (const c of candidates) {
    if (pairs.length >= limits.minPairs && est + c.est > limits.pairRows) break;
    pairs.push(`(${quoteLexeme(c.a)} & ${quoteLexeme(c.b)})`);
    est += c.est;
  }
  // Only common terms, and no pair among them: the rarest one alone (maxRows bounds the read).
  if (any.length === 0 && pairs.length === 0 && sorted.length > 0) any.push(sorted[0]!.term);
  return { tsquery: [...any.map(quoteLexeme), ...pairs].join(' | '), rest: sorted.map((d) => d.term).filter((t) => !any.includes(t)) };
}

/** A tsquery operand for a term, quoted so that no term is read as an operator. */
function quoteLexeme(t: string): string {
  return `'${t.replace(/'/g, "''")}'`;
}

/** Weight of the question's IDF mass found together in one sentence of a passage (see PassageScorer). */
export const SENTENCE_WEIGHT = 1;
/** Weight of each pair of consecutive question terms found next to each other in a passage. */
export const PAIR_WEIGHT = 1;

/**
 * Scores passages for one question: BM25 (IDF per term, length-normalised by the average passage), plus
 * SENTENCE_WEIGHT times the IDF mass of the question terms that its best sentence holds together, plus
 * PAIR_WEIGHT times the smaller IDF of each pair of consecutive question terms that stand next to each
 * other in it. A question is usually answered by one sentence and often repeats its phrases; a passage
 * whose matches are scattered over unrelated sentences answers worse, and telling the two apart matters
 * more the larger the knowledge base grows.
 */
export class PassageScorer {
  private readonly needles: string[];
  private readonly pairs = new Map<string, number>();

  /** `questionTerms` in the question's order, repeats allowed; `idf` holds the terms the index knows. */
  constructor(
    questionTerms: readonly string[],
    private readonly idf: ReadonlyMap<string, number>,
    private readonly avgLen: number,
  ) {
    this.needles = [...new Set(questionTerms)].filter((t) => idf.has(t));
    for (let i = 0; i + 1 < questionTerms.length; i++) {
      const a = questionTerms[i]!;
      const b = questionTerms[i + 1]!;
      if (a === b || !idf.has(a) || !idf.has(b)) continue;
      const w = Math.min(idf.get(a)!, idf.get(b)!);
      this.pairs.set(`${a} ${b}`, w);
      this.pairs.set(`${b} ${a}`, w);
    }
  }

  /** The score of one passage from its stored terms (see passageTerms) and its length in terms. */
  score(stored: string, termCount: number): number {
    // Find the question's terms as whole tokens with the string search built into the engine: far
    // cheaper than splitting every candidate passage into tokens.
    const occ: Array<{ at: number; end: number; term: string }> = [];
    for (const term of this.needles) {
      for (let from = 0; ; ) {
        const at = stored.indexOf(term, from);
        if (at < 0) break;
        const end = at + term.length;
        if ((at === 0 || stored.charCodeAt(at - 1) === 32) && (end === stored.length || stored.charCodeAt(end) === 32)) occ.push({ at, end, term });
        from = end;
      }
    }
    if (occ.length === 0) return 0;
    occ.sort((x, y) => x.at - y.at);

    const tf = new Map<string, number>();
    let segment = 0;
    let nextBoundary = stored.indexOf(SEGMENT_GAP);
    let sentence = 0;
    let bestSentence = 0;
    const inSentence = new Set<string>();
    const pairsSeen = new Set<string>();
    let pairs = 0;
    for (let k = 0; k < occ.length; k++) {
      const o = occ[k]!;
      while (nextBoundary >= 0 && nextBoundary < o.at) {
        if (segment > 0) bestSentence = Math.max(bestSentence, sentence);
        segment += 1;
        sentence = 0;
        inSentence.clear();
        nextBoundary = stored.indexOf(SEGMENT_GAP, nextBoundary + SEGMENT_GAP.length);
      }
      tf.set(o.term, (tf.get(o.term) ?? 0) + 1);
      if (segment > 0 && !inSentence.has(o.term)) {
        inSentence.add(o.term);
        sentence += this.idf.get(o.term)!;
      }
      const prev = occ[k - 1];
      if (prev && prev.end + 1 === o.at) {
        const key = `${prev.term} ${o.term}`;
        const w = this.pairs.get(key);
        if (w !== undefined && !pairsSeen.has(key)) {
          pairsSeen.add(key);
          pairsSeen.add(`${o.term} ${prev.term}`);
          pairs += w;
        }
      }
    }
    if (segment > 0) bestSentence = Math.max(bestSentence, sentence);
    let bm25 = 0;
    const norm = K1 * (1 - B + (B * termCount) / this.avgLen);
    for (const [t, f] of tf) bm25 += this.idf.get(t)! * ((f * (K1 + 1)) / (f + norm));
    return bm25 + SENTENCE_WEIGHT * bestSentence + PAIR_WEIGHT * pairs;
  }
}


/** What a search result shows of a passage and its entry. */
type DisplayRow = { chunk_id: string; content: string; title: string; language: string; verified: boolean; status: string; review_due_at: string | Date | null };

/**
 * Lexical retrieval with BM25 ranking. The question's terms are OR-ed; the organisation's statistics
 * give each term's IDF with one key lookup; candidate passages are selected through the GIN index
 * (candidatePlan), every candidate is scored over all the question's terms (PassageScorer),
 * verified entries get a small boost, and entries are ranked by their best passage.
 */
export class LexicalRetriever implements Retriever {
  constructor(
    private readonly db: Db,
    /** When given and enabled, dense results are fused with lexical ones by reciprocal rank. */
    private readonly dense?: DenseIndex,
    private readonly limits: CandidateLimits = CANDIDATE_LIMITS,
  ) {}

  async entryExists(orgId: string, entryId: string): Promise<boolean> {
    const [r] = await this.db.select({ id: knowledgeEntries.id }).from(knowledgeEntries).where(and(eq(knowledgeEntries.id, entryId), eq(knowledgeEntries.orgId, orgId)));
    return !!r;
  }

  async search(orgId: string, query: string, opts: { limit: number; filters: EntryFilters }): Promise<{ hits: SearchHit[]; mode: 'lexical' | 'hybrid' }> {
    const ordered = terms(query).slice(0, 64);
    const qTerms = [...new Set(ordered)].slice(0, 32);
    const denseOn = this.dense ? await this.dense.enabled() : false;
    const mode = denseOn ? 'hybrid' : 'lexical';
    if (qTerms.length === 0 && !denseOn) return { hits: [], mode };
    const f = opts.filters;
    const filterSql = sql.join(
      [
        sql`e.org_id = ${orgId}`,
        sql`e.status <> 'archived'`,
        f.department_id ? sql`e.department_id = ${f.department_id}` : undefined,
        f.category_id ? sql`e.category_id = ${f.category_id}` : undefined,
        f.language ? sql`e.language = ${f.language}` : undefined,
        f.verified !== undefined ? sql`e.verified = ${f.verified}` : undefined,
        f.tag_ids?.length ? sql`e.id IN (SELECT entry_id FROM entry_tags WHERE org_id = ${orgId} AND tag_id IN (${sql.join(f.tag_ids.map((t) => sql`${t}::uuid`), sql`, `)}))` : undefined,
      ].filter((x): x is NonNullable<typeof x> => x !== undefined),
      sql` AND `,
    );

    // What results show, read only for the passages that may be shown (archived entries never are).
    const rows = new Map<string, DisplayRow>();
    const display = async (chunkIds: string[]) => {
      const missing = chunkIds.filter((id) => !rows.has(id));
      if (missing.length === 0) return;
      const found = await queryRows<DisplayRow>(
        this.db,
        sql`SELECT c.id AS chunk_id, c.content, e.title, e.language, e.verified, e.status, e.review_due_at
              FROM search_chunks c JOIN knowledge_entries e ON e.id = c.entry_id
             WHERE c.org_id = ${orgId} AND c.id = ANY(${sql.param(missing)}::uuid[]) AND e.status <> 'archived'`,
      );
      for (const r of found) rows.set(r.chunk_id, r);
    };

    // Lexical ranking: (entry, best passage, score), best first; and how much of the question the best
    // passage holds, which decides how far dense results may move it.
    let ranked: Array<{ entryId: string; chunkId: string; score: number; terms?: string }> = [];
    let coverage = 0;
    if (qTerms.length > 0) {
      const stats = await queryRows<{ chunks: number; terms: number; term: string | null; df: number | null }>(
        this.db,
        sql`SELECT s.chunks, s.terms::float8 AS terms, t.term, t.df
              FROM search_stats s LEFT JOIN search_terms t ON t.org_id = s.org_id AND t.term = ANY(${sql.param(qTerms)}::text[])
             WHERE s.org_id = ${orgId}`,
      );
      const n = stats[0]?.chunks ?? 0;
      if (n > 0) {
        const avgLen = Math.max(1, stats[0]!.terms / n);
        const dfs = stats.filter((r): r is typeof r & { term: string; df: number } => r.term !== null && r.df !== null);
        const idfOf = (df: number) => Math.log(1 + (n - df + 0.5) / (df + 0.5));
        const idf = new Map(dfs.map((r) => [r.term, idfOf(r.df)]));
        const plan = candidatePlan(dfs, n, this.limits);
        const scorer = new PassageScorer(ordered, idf, avgLen);
        const filtered = Object.values(f).some((v) => v !== undefined && !(Array.isArray(v) && v.length === 0));
        const best = new Map<string, { chunkId: string; score: number; terms: string }>();
        const score = (rows: Array<{ chunk_id: string; entry_id: string; terms: string; term_count: number; verified: boolean }>) => {
          for (const c of rows) {
            const s = scorer.score(c.terms, c.term_count) * (c.verified ? 1.05 : 1);
            const prev = best.get(c.entry_id);
            if (!prev || s > prev.score) best.set(c.entry_id, { chunkId: c.chunk_id, score: s, terms: c.terms });
          }
        };
        // Without filters the entry row is not needed (only live entries have passages); with them, the
        // join applies them and reads `verified` for the boost (unfiltered, it is applied to the top below).
        const fetch = (tsquery: string, exclude: string | undefined, rows: number) =>
          queryRows<{ chunk_id: string; entry_id: string; terms: string; term_count: number; verified: boolean }>(
            this.db,
            sql`SELECT c.id AS chunk_id, c.entry_id, c.terms, c.term_count, ${filtered ? sql`e.verified` : sql`false AS verified`}
                  FROM search_chunks c ${filtered ? sql`JOIN knowledge_entries e ON e.id = c.entry_id` : sql``}
                 WHERE c.org_id = ${orgId} AND c.tsv @@ to_tsquery('simple', ${tsquery})
                   ${exclude ? sql`AND NOT c.tsv @@ to_tsquery('simple', ${exclude})` : sql``}
                   ${filtered ? sql`AND ${filterSql}` : sql``}
                 LIMIT ${rows}`,
          );
        if (plan.tsquery) score(await fetch(plan.tsquery, undefined, this.limits.maxRows));
        // Too few results (filters, or a question whose rare terms are nowhere else): once more with the
        // terms that selected nothing, passages already read excluded.
        if (best.size < opts.limit && plan.rest.length > 0) {
          score(await fetch(plan.rest.map(quoteLexeme).join(' | '), plan.tsquery || undefined, this.limits.widenRows));
        }
        ranked = [...best].map(([entryId, v]) => ({ entryId, ...v })).sort((a, b) => b.score - a.score);
        if (ranked.length > 0) {
          // The entries near the top are read once, for display and, unfiltered, for the verified boost
          // (the only entries it can reorder into the results); a row gone meanwhile drops out.
          const head = ranked.slice(0, Math.max(30, opts.limit * 3));
          await display(head.map((r) => r.chunkId));
          if (!filtered) for (const r of head) if (rows.get(r.chunkId)?.verified) r.score *= 1.05;
          ranked = [...head.filter((r) => rows.has(r.chunkId)).sort((a, b) => b.score - a.score), ...ranked.slice(head.length)];
        }
        if (denseOn && ranked[0]?.terms) coverage = lexicalCoverage(qTerms, (t) => idf.get(t) ?? idfOf(0), ranked[0].terms);
      }
    }

    if (denseOn && this.dense) {
      const dense = await this.dense.search(orgId, query, filterSql, 50);
      ranked = fuseRankings(ranked, dense, coverage);
    }
    ranked = ranked.slice(0, opts.limit);
    if (ranked.length === 0) return { hits: [], mode };
    await display(ranked.map((r) => r.chunkId));
    const qSet = new Set(qTerms);
    const now = Date.now();
    const hits: SearchHit[] = [];
    for (const r of ranked) {
      const row = rows.get(r.chunkId);
      if (!row) continue; // re-indexed or archived between the two reads
      const { snippet, highlights } = snippetOf(row.content, qSet);
      const due = row.review_due_at ? new Date(row.review_due_at).getTime() : undefined;
      hits.push({
        entryId: r.entryId,
        chunkId: r.chunkId,
        title: row.title,
        content: row.content,
        snippet,
        highlights,
        score: r.score,
        language: row.language,
        verified: row.verified,
        status: row.status,
        reviewOverdue: due !== undefined && due < now,
      });
    }
    return { hits, mode };
  }
}

/**
 * The share of a question's information that a passage holds: the IDF mass of the question's terms
 * found in the passage's stored terms over that of all of them (0..1). Terms the index has never seen
 * (another language, a misspelling) count with the highest IDF, so they lower it.
 */
export function lexicalCoverage(questionTerms: readonly string[], idf: (term: string) => number, stored: string): number {
  const present = new Set(stored.split(' '));
  let all = 0;
  let found = 0;
  for (const t of new Set(questionTerms)) {
    const w = idf(t);
    all += w;
    if (present.has(t)) found += w;
  }
  return all > 0 ? found / all : 0;
}

/** Rank constant of the fusion: small enough that first and fifth place still differ. */
const FUSION_K = 10;

/**
 * Reciprocal rank fusion of the lexical and dense rankings, per entry, each weighted by how far it is
 * trusted for this question: lexical by `coverage` (lexicalCoverage of its best passage), dense by the
 * rest (neither below 0.05, so an entry both find stays above one only one finds). A question whose
 * words the best passage holds keeps the lexical order (dense results only break near-ties or add
 * entries below); one whose words the index does not hold (asked in another language, or in other
 * words) is ranked by meaning. Equal weights let the weaker side pull a right first result down: with
 * a deliberately weak embedder, English Recall@1 fell from .950 to .628 (.808 weighted).
 */
export function fuseRankings(
  lexical: ReadonlyArray<{ entryId: string; chunkId: string }>,
  dense: ReadonlyArray<{ entry_id: string; chunk_id: string }>,
  coverage: number,
): Array<{ entryId: string; chunkId: string; score: number }> {
  const w = Math.min(0.95, Math.max(0.05, coverage));
  const fused = new Map<string, { chunkId: string; score: number }>();
  lexical.forEach((r, i) => fused.set(r.entryId, { chunkId: r.chunkId, score: w / (FUSION_K + i + 1) }));
  // Dense results are passages, best first: an entry takes the rank of its first.
  const seen = new Set<string>();
  let rank = 0;
  for (const d of dense) {
    if (seen.has(d.entry_id)) continue;
    seen.add(d.entry_id);
    rank += 1;
    const prev = fused.get(d.entry_id);
    fused.set(d.entry_id, { chunkId: prev?.chunkId ?? d.chunk_id, score: (prev?.score ?? 0) + (1 - w) / (FUSION_K + rank) });
  }
  return [...fused].map(([entryId, v]) => ({ entryId, ...v })).sort((a, b) => b.score - a.score);
}

/** The sentence (with its neighbour) that holds most query terms, and the words in it that matched. */
export function snippetOf(content: string, qSet: Set<string>): { snippet: string; highlights: string[] } {
  const sentences = splitSentences(content);
  let bestI = 0;
  let bestN = -1;
  sentences.forEach((s, i) => {
    const n = new Set(terms(s).filter((t) => qSet.has(t))).size;
    if (n > bestN) {
      bestN = n;
      bestI = i;
    }
  });
  let snippet = sentences[bestI] ?? content.slice(0, 280);
  if (snippet.length < 120 && sentences[bestI + 1]) snippet = `${snippet} ${sentences[bestI + 1]}`;
  if (snippet.length > 400) snippet = `${snippet.slice(0, 397)}…`;
  // Words as written (marks kept with their letters: a vocalised word is one word), each tried once.
  const highlights = [...new Set(snippet.split(/[^\p{L}\p{M}\p{N}]+/u))].filter((w) => w && terms(w).some((t) => qSet.has(t)));
  return { snippet, highlights };
}

/** The retriever and text tools the query module uses, plus the index maintenance they rely on. */
export function createRetrieval(deps: Deps): { retriever: Retriever; text: TextTools } {
  const db = deps.database.db;
  const dense = new DenseIndex(db, deps.ai, deps.config.embeddings?.model);
  // Keep the index in step with every committed change; vectors follow when configured. The indexer reads
  // each entry as it is now, so the events of a dispatch pass are taken together: one transaction per
  // organisation for a whole burst of changes (an import, a CSV of thousands of rows), whatever their order.
  deps.outbox.subscribeBatch('search-index', ['knowledge.created', 'knowledge.updated', 'knowledge.deleted'], async (events, { signal }) => {
    const byOrg = new Map<string, Set<string>>();
    for (const e of events) if (e.orgId) byOrg.set(e.orgId, (byOrg.get(e.orgId) ?? new Set()).add(e.aggregateId));
    for (const [orgId, ids] of byOrg) {
      await indexEntries(db, orgId, [...ids]);
      for (const id of ids) await dense.indexEntry(orgId, id, signal);
    }
  });
  deps.jobs.define<{ orgId: string }>({
    kind: 'search.reindex',
    retryLimit: 2,
    timeoutSeconds: 3600,
    handler: async ({ payload, progress }) => {
      const ids = await db
        .select({ id: knowledgeEntries.id })
        .from(knowledgeEntries)
        .where(and(eq(knowledgeEntries.orgId, payload.orgId), ne(knowledgeEntries.status, 'archived')));
      // Every entry is re-indexed in place (search keeps answering meanwhile), then leftovers are dropped and the statistics recomputed.
      let done = 0;
      for (let i = 0; i < ids.length; i += 200) {
        const batch = ids.slice(i, i + 200).map((r) => r.id);
        await indexEntries(db, payload.orgId, batch);
        for (const id of batch) await dense.indexEntry(payload.orgId, id);
        done += batch.length;
        await progress((done / Math.max(1, ids.length)) * 100);
      }
      const { chunks } = await refreshIndexStatistics(db, payload.orgId);
      return { entries: done, chunks };
    },
  });
  // An upgrade that changed the analyzer re-indexes what the previous version indexed.
  deps.jobs.afterStart('search.analyzer-upgrade', async () => {
    const n = await reindexStaleOrganisations(db, deps.jobs);
    if (n > 0) deps.log.info({ organisations: n, analyzer: ANALYZER_VERSION }, 'search index made by an older analyzer: rebuild queued');
  });
  return { retriever: new LexicalRetriever(db, dense), text: { terms, detectLanguage } };
}

