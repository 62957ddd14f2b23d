// Measures document capture end to end (upload → job → entries): documents per minute and peak memory for a
// generated 100-page PDF and a generated 10 MB CSV. Usage: npm run bench:capture
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { organizations, users } from '../src/db/schema/index.ts';
import { openEmbedded, openServer } from '../src/platform/db/client.ts';
import { newId } from '../src/platform/db/ids.ts';
import { createLogger } from '../src/platform/observability/logger.ts';
import { loadXquad } from './xquad.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tadween-bench-'));
const database = process.env.DATABASE_URL ? openServer(process.env.DATABASE_URL) : await openEmbedded(path.join(dataDir, 'pgdata'));
await database.migrate();
const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', ENCRYPTION_KEY: randomBytes(32).toString('base64'), UPLOAD_LIMIT_BYTES: String(64 * 1024 * 1024) });
const { app, deps } = await buildApp(config, database, { logger: createLogger('silent'), jobsPollingSeconds: 0.5 });
await app.ready();
await deps.jobs.start({ work: true });
deps.outbox.start();

const orgId = newId();
const userId = newId();
await database.db.insert(organizations).values({ id: orgId, name: 'Bench', plan: 'enterprise' });
await database.db.insert(users).values({ id: userId, orgId, email: `bench-${orgId}@example.test`, fullName: 'Bench', role: 'admin', isOrgOwner: true });
const { token } = await deps.tokens.signAccess({ sub: userId, role: 'admin', email: 'b@example.test', org_id: orgId, org_plan: 'enterprise', is_org_owner: true });
const paragraphs = loadXquad('en').map((p) => p.context);

async function makePdf(pages: number): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (let i = 0; i < pages; i++) {
    const page = doc.addPage([595, 842]);
    const words = paragraphs[i % paragraphs.length]!.replace(/[^\x20-\x7e]/g, ' ').split(/\s+/);
    let line = '';
    let y = 800;
    page.drawText(`Section ${i + 1}`, { x: 50, y, size: 14, font });
    y -= 24;
    for (const w of words) {
      if ((line + w).length > 90) {
        page.drawText(line, { x: 50, y, size: 10, font });
        y -= 14;
        line = '';
      }
      line += `${w} `;
    }
    if (line) page.drawText(line, { x: 50, y, size: 10, font });
  }
  return Buffer.from(await doc.save());
}

function makeCsv(bytes: number): Buffer {
  const rows = ['title,content'];
  let size = 14;
  for (let i = 0; size < bytes; i++) {
    const row = `"Row ${i}","${paragraphs[i % paragraphs.length]!.replace(/"/g, '""')}"`;
    rows.push(row);
    size += row.length + 1;
  }
  return Buffer.from(rows.join('\n'));
}

function multipart(file: Buffer, filename: string, options: object) {
  const boundary = '----tadween-bench';
  return {
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, authorization: `Bearer ${token}` },
    payload: Buffer.concat([
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="options"\r\n\r\n${JSON.stringify(options)}\r\n`),
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${filename}"\r\ncontent-type: application/octet-stream\r\n\r\n`),
      file,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]),
  };
}

let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);

async function run(name: string, file: Buffer, filename: string, options: object) {
  peak = process.memoryUsage().rss;
  const before = peak;
  const t0 = performance.now();
  const m = multipart(file, filename, options);
  const res = await app.inject({ method: 'POST', url: '/api/v1/capture/documents/upload', ...m });
  if (res.statusCode !== 202) throw new Error(`${name}: ${res.statusCode} ${res.body}`);
  await deps.jobs.drain(600_000);
  const seconds = (performance.now() - t0) / 1000;
  const job = await deps.jobs.get(orgId, (res.json() as { job_id: string }).job_id);
  const entries = ((job.result as { entry_ids?: string[] } | null)?.entry_ids ?? []).length;
  console.log(
    `${name.padEnd(28)} ${(file.length / 1024 / 1024).toFixed(1).padStart(5)} MB  ${seconds.toFixed(1).padStart(6)} s  ${(60 / seconds).toFixed(1).padStart(6)} documents/min  ` +
      `${entries} entries (${((entries / seconds) * 60).toFixed(0)}/min)  peak RSS ${(peak / 1024 / 1024).toFixed(0)} MB (+${((peak - before) / 1024 / 1024).toFixed(0)} MB)  status ${job.status}`,
  );
}

console.log(`capture benchmark on ${database.tier === 'embedded' ? 'embedded (PGlite)' : 'PostgreSQL'}`);
await run('100-page PDF, one entry/page', await makePdf(100), 'manual.pdf', { split: 'sections' });
await run('100-page PDF, one entry', await makePdf(100), 'manual2.pdf', { split: 'document' });
await run('10 MB CSV, one entry/row', makeCsv(10 * 1024 * 1024), 'rows.csv', {});
clearInterval(sampler);
await app.close();
await deps.outbox.stop();
await deps.jobs.stop();
await database.close();
fs.rmSync(dataDir, { recursive: true, force: true });
