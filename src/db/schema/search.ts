import { sql } from 'drizzle-orm';
import { customType, index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

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
