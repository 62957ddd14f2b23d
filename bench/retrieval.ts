// Indexes the XQuAD paragraphs as entries through the same code the API uses, asks every question through
// GET /api/v1/query/search and POST /api/v1/query/ask, and prints Recall@1/5/10, MRR@10, latency and the
// extractive answer hit rate. With --distractors N it then adds N distractor entries and asks again.
// With an embeddings provider configured (EMBEDDINGS_BASE_URL, EMBEDDINGS_MODEL, …) entries are embedded
// too, search runs hybrid, and Arabic questions are also asked of the English paragraphs (ar→en).
// Usage: npm run bench:retrieval [-- --distractors N] [-- --ask N] (DATABASE_URL for PostgreSQL).
import { knowledgeEntries } from '../src/db/schema/index.ts';
import { newId } from '../src/platform/db/ids.ts';
import { DenseIndex } from '../src/modules/query/query.dense.ts';
import { indexEntries } from '../src/modules/query/query.retrieval.ts';
import { benchArg, openBench } from './setup.ts';
import { loadXquad, percentile, retrievalMetrics, type XquadParagraph } from './xquad.ts';

const DISTRACTORS = benchArg('distractors', 0);
const ASK = benchArg('ask', 300);
/** The embeddings provider settings of this shell, handed to the app under test. */
const EMBEDDINGS_ENV = Object.fromEntries(Object.entries(process.env).filter((kv): kv is [string, string] => kv[0].startsWith('EMBEDDINGS_') && kv[1] !== undefined));
const HYBRID = EMBEDDINGS_ENV.EMBEDDINGS_BASE_URL !== undefined;

type Bench = Awaited<ReturnType<typeof openBench>>;

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

/**
 * Distractor entries made of real sentences from other articles: each is titled after one of `source`'s
 * articles and holds five sentences drawn at random from them. They share the corpus's style and general
 * vocabulary, so common question terms occur in tens of thousands of them, but none comes from an
 * evaluated article, so none is a second right answer to the questions being asked.
 */
function distractorMaker(source: XquadParagraph[], seed: number): () => { title: string; content: string } {
  const rand = rng(seed);
  const sentences = source.map((p) => ({ title: p.title, sentences: p.context.split(/(?<=[.!?؟])\s+/) }));
  const all = sentences.flatMap((s) => s.sentences);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  return () => ({ title: pick(sentences).title, content: Array.from({ length: 5 }, () => pick(all)).join(' ') });
}

/**
 * Inserts entries straight into the table and indexes them with the indexer the outbox consumer runs
 * (embedding them as well when a provider is configured).
 */
async function addEntries({ db, database, deps }: Bench, orgId: string, userId: string, lang: 'ar' | 'en', rows: Array<{ title: string; content: string }>): Promise<string[]> {
  const ids: string[] = [];
  const dense = new DenseIndex(db, deps.ai, deps.config.embeddings?.model);
  for (let i = 0; i < rows.length; i += 500) {
    const batch = rows.slice(i, i + 500).map((r) => ({ id: newId(), orgId, ...r, language: lang, authorId: userId }));
    await db.insert(knowledgeEntries).values(batch);
    await indexEntries(db, orgId, batch.map((r) => r.id));
    if (HYBRID) for (const r of batch) await dense.indexEntry(orgId, r.id);
    ids.push(...batch.map((r) => r.id));
  }
  if (database.pglite) await database.pglite.exec('VACUUM ANALYZE');
  else await database.pool!.query('VACUUM ANALYZE');
  return ids;
}

/** Asks each question through the search API; the 1-based rank of its paragraph's entry (0 = not in the top 10) and the latency. */
async function searchAll({ app }: Bench, headers: Record<string, string>, questions: Array<{ question: string; entryId: string }>) {
  const ranks: number[] = [];
  const ms: number[] = [];
  const modes = new Set<string>();
  for (const q of questions) {
    const t0 = performance.now();
    const res = await app.inject({ method: 'GET', url: `/api/v1/query/search?limit=10&q=${encodeURIComponent(q.question)}`, headers });
    ms.push(performance.now() - t0);
    if (res.statusCode !== 200) throw new Error(`search answered ${res.statusCode}: ${res.body}`);
    const body = res.json() as { items: Array<{ entry_id: string }>; mode: string };
    modes.add(body.mode);
    const r = body.items.map((i) => i.entry_id).indexOf(q.entryId);
    ranks.push(r < 0 ? 0 : r + 1);
  }
  return { ranks, ms, mode: [...modes].join('+') };
}

/** Share of evenly spaced questions whose extractive answer contains a gold answer. */
async function answerHitRate({ app }: Bench, headers: Record<string, string>, paragraphs: XquadParagraph[]) {
  const all = paragraphs.flatMap((p) => p.questions);
  const step = Math.max(1, Math.floor(all.length / ASK));
  let hits = 0;
  let asked = 0;
  for (let i = 0; i < all.length && asked < ASK; i += step) {
    const q = all[i]!;
    const res = await app.inject({ method: 'POST', url: '/api/v1/query/ask', headers, payload: { question: q.question } });
    const answer = (res.json() as { answer: string }).answer;
    if (q.answers.some((a) => answer.includes(a))) hits += 1;
    asked += 1;
  }
  return { rate: hits / Math.max(1, asked), asked };
}

const line = (label: string, ranks: number[], ms: number[], mode: string) => {
  const m = retrievalMetrics(ranks);
  return (
    `${label} (${mode}): R@1 ${m.r1.toFixed(3)}  R@5 ${m.r5.toFixed(3)}  R@10 ${m.r10.toFixed(3)}  MRR@10 ${m.mrr10.toFixed(3)}  ` +
    `search p50 ${percentile(ms, 50).toFixed(1)} ms p95 ${percentile(ms, 95).toFixed(1)} ms (${ranks.length} questions)`
  );
};

const tier = process.env.DATABASE_URL ? 'PostgreSQL' : 'embedded (PGlite)';
console.log(
  `retrieval benchmark on ${tier}; XQuAD 240 paragraphs${DISTRACTORS > 0 ? `, then + ${DISTRACTORS} distractors` : ''} per language; ` +
    (HYBRID ? `embeddings ${EMBEDDINGS_ENV.EMBEDDINGS_MODEL ?? ''} at ${EMBEDDINGS_ENV.EMBEDDINGS_BASE_URL}` : 'no embeddings provider (lexical only; ar→en skipped)'),
);
for (const lang of ['en', 'ar'] as const) {
  const paragraphs = loadXquad(lang);
  const articles = [...new Set(paragraphs.map((p) => p.title))];
  // Two folds by article: the distractors of one fold are made from the other fold's articles only, and
  // each fold runs in a database of its own, so a database never holds more than N distractors.
  const foldOf = (p: XquadParagraph) => articles.indexOf(p.title) % 2;
  const questions = (ps: XquadParagraph[], entryOf: Map<number, string>) =>
    ps.flatMap((p) => p.questions.map((q) => ({ key: q.id, question: q.question, entryId: entryOf.get(p.index)! })));

  const ranks: number[] = [];
  const baseRanks: number[] = [];
  const ms: number[] = [];
  let baseRankOf = new Map<string, number>();
  let mode = '';
  for (const fold of DISTRACTORS > 0 ? [0, 1] : [0]) {
    const bench = await openBench(EMBEDDINGS_ENV);
    const org = await bench.createOrg(`bench-${lang}-${fold}`);
    const ids = await addEntries(bench, org.orgId, org.userId, lang, paragraphs.map((p) => ({ title: p.title, content: p.context })));
    const entryOf = new Map(paragraphs.map((p, i) => [p.index, ids[i]!]));
    if (fold === 0) {
      const all = questions(paragraphs, entryOf);
      const b = await searchAll(bench, org.headers, all);
      baseRankOf = new Map(all.map((q, i) => [q.key, b.ranks[i]!]));
      const hit = await answerHitRate(bench, org.headers, paragraphs);
      console.log(`${line(`${lang}→${lang}`, b.ranks, b.ms, b.mode)}  answer hit rate ${hit.rate.toFixed(3)} (${hit.asked} questions)`);
    }
    if (DISTRACTORS > 0) {
      const make = distractorMaker(
        paragraphs.filter((p) => foldOf(p) !== fold),
        42 + fold,
      );
      const t0 = performance.now();
      await addEntries(bench, org.orgId, org.userId, lang, Array.from({ length: DISTRACTORS }, make));
      console.log(`  ${lang} fold ${fold}: ${DISTRACTORS} distractors indexed in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      const asked = questions(
        paragraphs.filter((p) => foldOf(p) === fold),
        entryOf,
      );
      const r = await searchAll(bench, org.headers, asked);
      ranks.push(...r.ranks);
      ms.push(...r.ms);
      mode = r.mode;
      // The same questions' ranks without distractors, for the paired comparison.
      baseRanks.push(...asked.map((q) => baseRankOf.get(q.key)!));
    }
    await bench.close();
  }
  if (DISTRACTORS > 0) {
    const with_ = retrievalMetrics(ranks);
    const without = retrievalMetrics(baseRanks);
    console.log(
      `${line(`${lang}→${lang} + ${DISTRACTORS} distractors`, ranks, ms, mode)}  change vs no distractors: R@1 ${(with_.r1 - without.r1).toFixed(3)}, ` +
        `R@5 ${(with_.r5 - without.r5).toFixed(3)}, R@10 ${(with_.r10 - without.r10).toFixed(3)}, MRR@10 ${(with_.mrr10 - without.mrr10).toFixed(3)}`,
    );
  }
}

if (HYBRID) {
  // Cross-lingual: the Arabic questions asked of the English paragraphs. XQuAD's languages are parallel
  // (the same paragraphs, questions and ids), so each Arabic question's answer is its English paragraph.
  const en = loadXquad('en');
  const bench = await openBench(EMBEDDINGS_ENV);
  const org = await bench.createOrg('bench-ar-en');
  const ids = await addEntries(bench, org.orgId, org.userId, 'en', en.map((p) => ({ title: p.title, content: p.context })));
  const entryOfQuestion = new Map(en.flatMap((p, i) => p.questions.map((q) => [q.id, ids[i]!] as const)));
  const asked = loadXquad('ar').flatMap((p) => p.questions.map((q) => ({ question: q.question, entryId: entryOfQuestion.get(q.id)! })));
  const r = await searchAll(bench, org.headers, asked);
  console.log(line('ar→en', r.ranks, r.ms, r.mode));
  await bench.close();
}
