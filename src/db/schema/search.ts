import { sql } from 'drizzle-orm';
import { bigint, customType, index, integer, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

const tsvector = customType<{ data: string }>({
  dataType() {
    return 'tsvector';
  },
});

/**
 * Passages of entries as the lexical index sees them. `terms` holds the normalised, stemmed terms
 * (title terms first), produced by the same function that normalises queries, so index and query
 * always agree; `tsv` is derived from it by the database.
 */
export const searchChunks = pgTable(
  'search_chunks',
  {
    id: uuid('id').primaryKey(),
    orgId: uuid('org_id').notNull(),
    entryId: uuid('entry_id').notNull(),
    ordinal: integer('ordinal').notNull(),
    heading: text('heading'),
    content: text('content').notNull(),
    terms: text('terms').notNull(),
    termCount: integer('term_count').notNull(),
    tsv: tsvector('tsv')
      .notNull()
      .generatedAlwaysAs(sql`to_tsvector('simple'::regconfig, terms)`),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('search_chunks_tsv_idx').using('gin', t.tsv), index('search_chunks_org_entry_idx').on(t.orgId, t.entryId)],
);

/**
 * Document frequency of each term among an organisation's passages (BM25's IDF), kept in step with
 * `search_chunks` by the indexer in the same transaction, so a search reads it with one key lookup per
 * term instead of counting matches.
 */
export const searchTerms = pgTable(
  'search_terms',
  {
    orgId: uuid('org_id').notNull(),
    term: text('term').notNull(),
    df: integer('df').notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.term] })],
);

/**
 * An organisation's passage count and total passage length (BM25's N and average length). Its row is
 * also the lock that serialises index writes within the organisation, which keeps the statistics exact.
 */
export const searchStats = pgTable('search_stats', {
  orgId: uuid('org_id').primaryKey(),
  chunks: integer('chunks').notNull().default(0),
  terms: bigint('terms', { mode: 'number' }).notNull().default(0),
  /** The analyzer version (ANALYZER_VERSION) the organisation's passages were indexed with; another one is re-indexed at start. */
  analyzer: integer('analyzer').notNull().default(1),
});
