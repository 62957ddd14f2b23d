import { and, eq } from 'drizzle-orm';
import { knowledgeEntries } from '../../db/schema/index.ts';
import type { Actor } from '../../platform/auth/guard.ts';
import type { Db } from '../../platform/db/client.ts';
import type { EntryInput, EntrySource, KnowledgeService } from '../knowledge/knowledge.service.ts';

/**
 * Makes the entry one captured item becomes, once. The source ref names the job (or session, or log) and
 * the item, so a retried or resumed job finds what an earlier attempt made instead of making it twice; and
 * `make` (which may ask an LLM) runs only when the entry does not exist yet.
 */
export async function createOnce(
  db: Db,
  knowledge: KnowledgeService,
  actor: Actor,
  source: { type: EntrySource; ref: string },
  make: () => Promise<Omit<EntryInput, 'source'>>,
): Promise<string> {
  const [done] = await db
    .select({ id: knowledgeEntries.id })
    .from(knowledgeEntries)
    .where(and(eq(knowledgeEntries.orgId, actor.orgId), eq(knowledgeEntries.sourceRef, source.ref), eq(knowledgeEntries.sourceType, source.type)));
  if (done) return done.id;
  return (await knowledge.create(actor, { ...(await make()), source })).id;
}
