// Seeds 100,000 entries and measures list (two filters), get, create and update through the HTTP API.
// Embedded by default; set DATABASE_URL to measure on PostgreSQL. Usage: npm run bench:knowledge [-- --entries N]
import { departments, entryTags, knowledgeEntries, tags } from '../src/db/schema/index.ts';
import { newId } from '../src/platform/db/ids.ts';
import { benchArg, openBench } from './setup.ts';
import { loadXquad, percentile } from './xquad.ts';

const N = benchArg('entries', 100_000);
const REQUESTS = benchArg('requests', 300);

const { app, db, database, tier, createOrg, close } = await openBench();

// An organisation with departments and tags, and N entries written in batches.
const { orgId, userId, headers } = await createOrg('bench');
const deptIds = Array.from({ length: 10 }, () => newId());
await db.insert(departments).values(deptIds.map((id, i) => ({ id, orgId, name: `Department ${i}` })));
const tagIds = Array.from({ length: 20 }, () => newId());
await db.insert(tags).values(tagIds.map((id, i) => ({ id, orgId, name: `tag-${i}` })));
const texts = [...loadXquad('en'), ...loadXquad('ar')].map((p) => ({ title: `${p.title}`, content: p.context }));
const seedStart = performance.now();
const BATCH = 1000;
for (let done = 0; done < N; done += BATCH) {
  const rows = Array.from({ length: Math.min(BATCH, N - done) }, (_, i) => {
    const k = done + i;
    const t = texts[k % texts.length]!;
    return {
      id: newId(),
      orgId,
      title: `${t.title} ${k}`,
      content: t.content,
      language: (k % texts.length) < texts.length / 2 ? ('en' as const) : ('ar' as const),
      authorId: userId,
      departmentId: deptIds[k % deptIds.length]!,
      status: k % 17 === 0 ? ('needs_review' as const) : ('active' as const),
    };
  });
  await db.insert(knowledgeEntries).values(rows);
  await db.insert(entryTags).values(rows.map((r, i) => ({ orgId, entryId: r.id, tagId: tagIds[(done + i) % tagIds.length]! })));
}
const seedSeconds = (performance.now() - seedStart) / 1000;
// As autovacuum would have by now on a live database: fresh statistics and visibility map.
if (database.pglite) await database.pglite.exec('VACUUM ANALYZE');
else await database.pool!.query('VACUUM ANALYZE');

const sample = await db.select({ id: knowledgeEntries.id }).from(knowledgeEntries).limit(REQUESTS);

async function measure(name: string, fn: (i: number) => Promise<{ statusCode: number }>, expected: number) {
  for (let i = 0; i < 20; i++) await fn(i); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = performance.now();
    const res = await fn(i);
    ms.push(performance.now() - t0);
    if (res.statusCode !== expected) throw new Error(`${name}: status ${res.statusCode}`);
  }
  return { name, p50: percentile(ms, 50), p95: percentile(ms, 95) };
}

const results = [
  await measure('list (department + tag, page 3)', (i) => app.inject({ method: 'GET', url: `/api/v1/knowledge/?department_id=${deptIds[i % 10]}&tag_ids=${tagIds[i % 20]}&page=3`, headers }), 200),
  await measure('get', (i) => app.inject({ method: 'GET', url: `/api/v1/knowledge/${sample[i % sample.length]!.id}`, headers }), 200),
  await measure('create', (i) => app.inject({ method: 'POST', url: '/api/v1/knowledge/', headers, payload: { title: `New ${i}`, content: texts[i % texts.length]!.content, tag_ids: [tagIds[i % 20]!], department_id: deptIds[i % 10] } }), 201),
  await measure('update', (i) => app.inject({ method: 'PUT', url: `/api/v1/knowledge/${sample[i % sample.length]!.id}`, headers, payload: { summary: `summary ${i}` } }), 200),
];

console.log(`knowledge benchmark: ${N} entries on ${tier}, seeded in ${seedSeconds.toFixed(1)} s; ${REQUESTS} requests each through the HTTP API (app.inject)`);
console.log('operation                          p50 ms   p95 ms');
for (const r of results) console.log(`${r.name.padEnd(34)} ${r.p50.toFixed(1).padStart(6)}   ${r.p95.toFixed(1).padStart(6)}`);
await close();
