import { sql } from 'drizzle-orm';
import type { AiProviders } from '../../platform/ai/providers.ts';
import { queryRows, type Db } from '../../platform/db/client.ts';

/**
 * Dense retrieval over pgvector, used when an embeddings provider is configured and the database has
 * the `vector` extension. Vectors are kept per passage; an HNSW index is made for the dimension in use.
 */
export class DenseIndex {
  private available?: boolean;
  private readonly indexedDims = new Set<number>();

  constructor(
    private readonly db: Db,
    private readonly ai: AiProviders,
    private readonly model: string | undefined,
  ) {}

  /** Whether dense retrieval can run: a provider is configured and the table exists. */
  async enabled(): Promise<boolean> {
    if (!this.ai.hasEmbeddings()) return false;
    if (this.available === undefined) {
      const [r] = await queryRows<{ t: string | null }>(this.db, sql`SELECT to_regclass('chunk_embeddings')::text AS t`);
      this.available = !!r?.t;
    }
    return this.available;
  }

  private async ensureIndex(dims: number): Promise<void> {
    if (this.indexedDims.has(dims)) return;
    await this.db.execute(
      sql.raw(`CREATE INDEX IF NOT EXISTS chunk_embeddings_hnsw_${dims} ON chunk_embeddings USING hnsw ((embedding::vector(${dims})) vector_cosine_ops) WHERE dims = ${dims}`),
    );
    this.indexedDims.add(dims);
  }

  /** Embeds an entry's passages (replacing earlier vectors). */
  async indexEntry(orgId: string, entryId: string, signal?: AbortSignal): Promise<number> {
    if (!(await this.enabled())) return 0;
    await this.db.execute(sql`DELETE FROM chunk_embeddings WHERE org_id = ${orgId} AND entry_id = ${entryId}`);
    const chunks = await queryRows<{ id: string; heading: string | null; content: string; title: string }>(
      this.db,
      sql`SELECT c.id, c.heading, c.content, e.title FROM search_chunks c JOIN knowledge_entries e ON e.id = c.entry_id WHERE c.org_id = ${orgId} AND c.entry_id = ${entryId} ORDER BY c.ordinal`,
    );
    if (chunks.length === 0) return 0;
    const vectors = await this.ai.embed(
      chunks.map((c) => `${c.title}\n${c.heading ? `${c.heading}\n` : ''}${c.content}`),
      signal,
    );
    const dims = vectors[0]!.length;
    await this.ensureIndex(dims);
    for (let i = 0; i < chunks.length; i++) {
      const v = `[${vectors[i]!.join(',')}]`;
      await this.db.execute(
        sql`INSERT INTO chunk_embeddings (chunk_id, org_id, entry_id, model, dims, embedding) VALUES (${chunks[i]!.id}, ${orgId}, ${entryId}, ${this.model ?? 'default'}, ${dims}, ${v}::vector)
            ON CONFLICT (chunk_id) DO UPDATE SET embedding = EXCLUDED.embedding, dims = EXCLUDED.dims, model = EXCLUDED.model`,
      );
    }
    return chunks.length;
  }

  /** Nearest passages to the query, restricted by the same entry filter SQL as lexical search. */
  async search(orgId: string, query: string, filterSql: ReturnType<typeof sql>, limit: number): Promise<Array<{ chunk_id: string; entry_id: string; sim: number }>> {
    if (!(await this.enabled())) return [];
    const [qv] = await this.ai.embed([query]);
    const dims = qv!.length;
    await this.ensureIndex(dims);
    const v = `[${qv!.join(',')}]`;
    return queryRows(
      this.db,
      sql`SELECT ce.chunk_id, ce.entry_id, 1 - (ce.embedding::${sql.raw(`vector(${dims})`)} <=> ${v}::${sql.raw(`vector(${dims})`)}) AS sim
            FROM chunk_embeddings ce JOIN knowledge_entries e ON e.id = ce.entry_id
           WHERE ce.org_id = ${orgId} AND ce.dims = ${dims} AND ${filterSql}
        ORDER BY ce.embedding::${sql.raw(`vector(${dims})`)} <=> ${v}::${sql.raw(`vector(${dims})`)}
           LIMIT ${limit}`,
    );
  }
}
