// Indexes the XQuAD paragraphs as entries through the same code the API uses, asks every question through
// GET /api/v1/query/search and POST /api/v1/query/ask, and prints Recall@1/5/10, MRR@10, latency and the
// extractive answer hit rate. Usage: npm run bench:retrieval [-- --distractors N] (DATABASE_URL for PostgreSQL).
import { knowledgeEntries } from '../src/db/schema/index.ts';
import { newId } from '../src/platform/db/ids.ts';
import { indexEntries, indexEntry } from '../src/modules/query/query.retrieval.ts';
import { benchArg, openBench } from './setup.ts';
import { loadXquad, percentile, retrievalMetrics } from './xquad.ts';

const DISTRACTORS = benchArg('distractors', 0);
const ASK = benchArg('ask', 300);

const { app, db, database, tier, createOrg, close } = await openBench();

/** Deterministic PRNG (mulberry32) so distractors are the same on every run. */
function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function setup(lang: 'ar' | 'en') {
  const { orgId, userId, headers } = await createOrg(`bench-${lang}`);

  const paragraphs = loadXquad(lang);
  const entryOf = new Map<number, string>();
  for (const p of paragraphs) {
    // The same create the API runs (version, activity, outbox), then the same indexer the outbox consumer runs.
    const [row] = await db
      .insert(knowledgeEntries)
      .values({ id: newId(), orgId, title: p.title, content: p.context, language: lang, authorId: userId })
      .returning({ id: knowledgeEntries.id });
    entryOf.set(p.index, row!.id);
    await indexEntry(db, orgId, row!.id);
  }
  if (DISTRACTORS > 0) {
    const sentences = paragraphs.flatMap((p) => p.context.split(/(?<=[.!?؟])\s+/));
    const rand = rng(42);
    for (let done = 0; done < DISTRACTORS; done += 500) {
      const rows = Array.from({ length: Math.min(500, DISTRACTORS - done) }, (_, i) => {
        const picked = Array.from({ length: 5 }, () => sentences[Math.floor(rand() * sentences.length)]!);
        return { id: newId(), orgId, title: `Distractor ${done + i}`, content: picked.join(' '), language: lang, authorId: userId };
      });
      await db.insert(knowledgeEntries).values(rows);
      await indexEntries(db, orgId, rows.map((r) => r.id));
    }
  }
  if (database.pglite) await database.pglite.exec('VACUUM ANALYZE');
  else await database.pool!.query('VACUUM ANALYZE');
  return { paragraphs, entryOf, headers };
}

console.log(`retrieval benchmark on ${tier}; XQuAD 240 paragraphs + ${DISTRACTORS} distractors per language`);
for (const lang of ['en', 'ar'] as const) {
  const { paragraphs, entryOf, headers } = await setup(lang);
  const ranks: number[] = [];
  const ms: number[] = [];
  for (const p of paragraphs) {
    for (const q of p.questions) {
      const t0 = performance.now();
      const res = await app.inject({ method: 'GET', url: `/api/v1/query/search?limit=10&q=${encodeURIComponent(q.question)}`, headers });
      ms.push(performance.now() - t0);
      const ids = (res.json() as { items: Array<{ entry_id: string }> }).items.map((i) => i.entry_id);
      const r = ids.indexOf(entryOf.get(p.index)!);
      ranks.push(r < 0 ? 0 : r + 1);
    }
  }
  const m = retrievalMetrics(ranks);
  let hits = 0;
  let asked = 0;
  const all = paragraphs.flatMap((p) => p.questions.map((q) => q));
  const step = Math.max(1, Math.floor(all.length / ASK));
  for (let i = 0; i < all.length && asked < ASK; i += step) {
    const q = all[i]!;
    const res = await app.inject({ method: 'POST', url: '/api/v1/query/ask', headers, payload: { question: q.question } });
    const answer = (res.json() as { answer: string }).answer;
    if (q.answers.some((a) => answer.includes(a))) hits += 1;
    asked += 1;
  }
  console.log(
    `${lang}→${lang}: R@1 ${m.r1.toFixed(3)}  R@5 ${m.r5.toFixed(3)}  R@10 ${m.r10.toFixed(3)}  MRR@10 ${m.mrr10.toFixed(3)}  ` +
      `search p50 ${percentile(ms, 50).toFixed(1)} ms p95 ${percentile(ms, 95).toFixed(1)} ms  answer hit rate ${(hits / asked).toFixed(3)} (${asked} questions)`,
  );
}
await close();
