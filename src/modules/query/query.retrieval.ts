import { and, eq, inArray, ne, sql } from 'drizzle-orm';
import type { Deps } from '../../app.ts';
import { knowledgeEntries, searchChunks } from '../../db/schema/index.ts';
import { queryRows, type Db, type Tx } from '../../platform/db/client.ts';
import { newId } from '../../platform/db/ids.ts';
import { detectLanguage } from '../../platform/text/language.ts';
import { terms } from '../../platform/text/tokens.ts';
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

/** Replaces the indexed passages of an entry (or removes them when it is archived or gone). */
export async function indexEntry(db: Db, orgId: string, entryId: string): Promise<number> {
  return indexEntries(db, orgId, [entryId]);
}

/** Replaces the indexed passages of many entries in one transaction (reindexing, imports). */
export async function indexEntries(db: Db, orgId: string, entryIds: string[]): Promise<number> {
  if (entryIds.length === 0) return 0;
  return db.transaction(async (t) => {
    const tx = t as unknown as Tx;
    await tx.delete(searchChunks).where(and(eq(searchChunks.orgId, orgId), inArray(searchChunks.entryId, entryIds)));
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
        // Title (and heading) terms lead every passage, twice: a title match weighs more.
        const all = [...titleTerms, ...titleTerms, ...terms(c.heading ?? ''), ...terms(c.content)];
        rows.push({ id: newId(), orgId, entryId: e.id, ordinal: c.ordinal, heading: c.heading, content: c.content, terms: all.join(' '), termCount: all.length });
      }
    }
    for (let i = 0; i < rows.length; i += 500) await tx.insert(searchChunks).values(rows.slice(i, i + 500));
    return rows.length;
  });
}

const K1 = 1.2;
const B = 0.75;

/**
 * Lexical retrieval with BM25 ranking: the question's terms are OR-ed in a GIN-indexed query that
 * selects candidates, then each candidate passage is scored with BM25 (IDF from the organisation's
 * passages, length-normalised), verified entries get a small boost, and entries are ranked by their
 * best passage.
 */
export class LexicalRetriever implements Retriever {
  constructor(
    private readonly db: Db,
    /** When given and enabled, dense results are fused with lexical ones by reciprocal rank. */
    private readonly dense?: DenseIndex,
  ) {}

  async entryExists(orgId: string, entryId: string): Promise<boolean> {
    const [r] = await this.db.select({ id: knowledgeEntries.id }).from(knowledgeEntries).where(and(eq(knowledgeEntries.id, entryId), eq(knowledgeEntries.orgId, orgId)));
    return !!r;
  }

  async search(orgId: string, query: string, opts: { limit: number; filters: EntryFilters }): Promise<{ hits: SearchHit[]; mode: 'lexical' | 'hybrid' }> {
    const qTerms = [...new Set(terms(query))].slice(0, 32);
    const denseOn = this.dense ? await this.dense.enabled() : false;
    if (qTerms.length === 0 && !denseOn) return { hits: [], mode: 'lexical' };
    const tsq = qTerms.length > 0 ? qTerms.join(' | ') : 'zzzznothing';
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
    // Corpus statistics for BM25: passage count, average length and each term's document frequency.
    const [stats] = await queryRows<{ n: number; avg: number | null }>(this.db, sql`SELECT count(*)::int AS n, avg(term_count)::float8 AS avg FROM search_chunks WHERE org_id = ${orgId}`);
    const n = stats?.n ?? 0;
    if (n === 0) return { hits: [], mode: denseOn ? 'hybrid' : 'lexical' };
    const avgLen = stats?.avg ?? 1;
    const dfRows =
      qTerms.length === 0
        ? []
        : await queryRows<{ term: string; df: number }>(
            this.db,
            sql`SELECT t.term, (SELECT count(*)::int FROM search_chunks c WHERE c.org_id = ${orgId} AND c.tsv @@ to_tsquery('simple', quote_literal(t.term))) AS df
                  FROM unnest(${sql.raw(`ARRAY[${qTerms.map((t) => `'${t.replace(/'/g, "''")}'`).join(',')}]::text[]`)}) AS t(term)`,
          );
    const idf = new Map(dfRows.map((r) => [r.term, Math.log(1 + (n - r.df + 0.5) / (r.df + 0.5))]));
    type Row = {
      chunk_id: string;
      entry_id: string;
      content: string;
      heading: string | null;
      terms: string;
      term_count: number;
      title: string;
      language: string;
      verified: boolean;
      status: string;
      review_due_at: string | Date | null;
    };
    const candidates = await queryRows<Row>(
      this.db,
      sql`SELECT c.id AS chunk_id, c.entry_id, c.content, c.heading, c.terms, c.term_count, e.title, e.language, e.verified, e.status, e.review_due_at
            FROM search_chunks c JOIN knowledge_entries e ON e.id = c.entry_id
           WHERE c.org_id = ${orgId} AND c.tsv @@ to_tsquery('simple', ${tsq}) AND ${filterSql}
        ORDER BY ts_rank(c.tsv, to_tsquery('simple', ${tsq}), 1) DESC
           LIMIT 300`,
    );
    const qSet = new Set(qTerms);
    const best = new Map<string, { score: number; row: (typeof candidates)[number] }>();
    for (const c of candidates) {
      const tf = new Map<string, number>();
      for (const t of c.terms.split(' ')) if (qSet.has(t)) tf.set(t, (tf.get(t) ?? 0) + 1);
      let score = 0;
      for (const [t, f0] of tf) score += (idf.get(t) ?? 0) * ((f0 * (K1 + 1)) / (f0 + K1 * (1 - B + (B * c.term_count) / avgLen)));
      if (c.verified) score *= 1.05;
      const prev = best.get(c.entry_id);
      if (!prev || score > prev.score) best.set(c.entry_id, { score, row: c });
    }
    let ranked = [...best.values()].sort((a, b) => b.score - a.score);
    let mode: 'lexical' | 'hybrid' = 'lexical';
    if (denseOn && this.dense) {
      mode = 'hybrid';
      // Reciprocal rank fusion (k = 60) of the lexical and dense rankings, per entry.
      const dense = await this.dense.search(orgId, query, filterSql, 50);
      const denseBest = new Map<string, { rank: number; chunkId: string }>();
      for (const d of dense) if (!denseBest.has(d.entry_id)) denseBest.set(d.entry_id, { rank: denseBest.size + 1, chunkId: d.chunk_id });
      const rows = new Map<string, Row>(ranked.map((r) => [r.row.entry_id, r.row]));
      const missing = [...denseBest.entries()].filter(([e]) => !rows.has(e)).map(([, v]) => v.chunkId);
      if (missing.length > 0) {
        const extra = await queryRows<Row>(
          this.db,
          sql`SELECT c.id AS chunk_id, c.entry_id, c.content, c.heading, c.terms, c.term_count, e.title, e.language, e.verified, e.status, e.review_due_at
                FROM search_chunks c JOIN knowledge_entries e ON e.id = c.entry_id
               WHERE c.org_id = ${orgId} AND c.id IN (${sql.join(missing.map((id) => sql`${id}::uuid`), sql`, `)})`,
        );
        for (const r of extra) rows.set(r.entry_id, r);
      }
      const lexRank = new Map(ranked.map((r, i) => [r.row.entry_id, i + 1]));
      const fused = [...rows.keys()].map((entryId) => {
        const lr = lexRank.get(entryId);
        const dr = denseBest.get(entryId)?.rank;
        const score = (lr ? 1 / (60 + lr) : 0) + (dr ? 1 / (60 + dr) : 0);
        return { score, row: rows.get(entryId)! };
      });
      ranked = fused.sort((a, b) => b.score - a.score);
    }
    ranked = ranked.slice(0, opts.limit);
    const now = Date.now();
    return {
      hits: ranked.map(({ score, row }) => {
        const { snippet, highlights } = snippetOf(row.content, qSet);
        const due = row.review_due_at ? new Date(row.review_due_at).getTime() : undefined;
        return {
          entryId: row.entry_id,
          chunkId: row.chunk_id,
          title: row.title,
          content: row.content,
          snippet,
          highlights,
          score,
          language: row.language,
          verified: row.verified,
          status: row.status,
          reviewOverdue: due !== undefined && due < now,
        };
      }),
      mode,
    };
  }
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
  const highlights = [...new Set(snippet.split(/[^\p{L}\p{N}]+/u).filter((w) => w && terms(w).some((t) => qSet.has(t))))];
  return { snippet, highlights };
}

/** The retriever and text tools the query module uses, plus the index maintenance they rely on. */
export function createRetrieval(deps: Deps): { retriever: Retriever; text: TextTools } {
  const db = deps.database.db;
  const dense = new DenseIndex(db, deps.ai, deps.config.embeddings?.model);
  // Keep the index in step with every committed change, in order per entry; vectors follow when configured.
  deps.outbox.subscribe('search-index', ['knowledge.created', 'knowledge.updated', 'knowledge.deleted'], async (event, { signal }) => {
    if (!event.orgId) return;
    await indexEntry(db, event.orgId, event.aggregateId);
    await dense.indexEntry(event.orgId, event.aggregateId, signal);
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
      await db.delete(searchChunks).where(eq(searchChunks.orgId, payload.orgId));
      let done = 0;
      let chunks = 0;
      for (let i = 0; i < ids.length; i += 200) {
        const batch = ids.slice(i, i + 200).map((r) => r.id);
        chunks += await indexEntries(db, payload.orgId, batch);
        for (const id of batch) await dense.indexEntry(payload.orgId, id);
        done += batch.length;
        await progress((done / ids.length) * 100);
      }
      return { entries: done, chunks };
    },
  });
  return { retriever: new LexicalRetriever(db, dense), text: { terms, detectLanguage } };
}

