// Measures document capture end to end (upload → job → entries): documents per minute and peak memory for a
// generated 100-page PDF and a generated 10 MB CSV. Usage: npm run bench:capture
import { sql } from 'drizzle-orm';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { queryRows } from '../src/platform/db/client.ts';
import { benchArg, openBench } from './setup.ts';
import { loadXquad } from './xquad.ts';

const CSV_MB = benchArg('csv-mb', 10);
const { app, deps, tier, createOrg, close } = await openBench({ UPLOAD_LIMIT_BYTES: String(64 * 1024 * 1024) }, { jobs: true });
const { orgId, headers } = await createOrg('bench');
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
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, ...headers },
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
  // Done when the job has finished and everything it caused (search index, webhooks) has too.
  await deps.jobs.drain(600_000);
  await deps.outbox.settled(600_000);
  await deps.jobs.drain(600_000);
  const seconds = (performance.now() - t0) / 1000;
  const job = await deps.jobs.get(orgId, (res.json() as { job_id: string }).job_id);
  const ids = (job.result as { entry_ids?: string[] } | null)?.entry_ids ?? [];
  const entries = ids.length;
  const [{ n: indexed } = { n: 0 }] = await queryRows<{ n: number }>(deps.database.db, sql`SELECT count(DISTINCT entry_id)::int AS n FROM search_chunks WHERE org_id = ${orgId} AND entry_id = ANY(${sql.param(ids)}::uuid[])`);
  console.log(
    `${name.padEnd(28)} ${(file.length / 1024 / 1024).toFixed(1).padStart(5)} MB  ${seconds.toFixed(1).padStart(6)} s  ${(60 / seconds).toFixed(1).padStart(6)} documents/min  ` +
      `${entries} entries (${((entries / seconds) * 60).toFixed(0)}/min), ${indexed} searchable  peak RSS ${(peak / 1024 / 1024).toFixed(0)} MB (+${((peak - before) / 1024 / 1024).toFixed(0)} MB)  status ${job.status}`,
  );
}

console.log(`capture benchmark on ${tier}`);
await run('100-page PDF, one entry/page', await makePdf(100), 'manual.pdf', { split: 'sections' });
await run('100-page PDF, one entry', await makePdf(100), 'manual2.pdf', { split: 'document' });
await run(`${CSV_MB} MB CSV, one entry/row`, makeCsv(CSV_MB * 1024 * 1024), 'rows.csv', {});
clearInterval(sampler);
await close();
