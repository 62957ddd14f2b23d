import fs from 'node:fs';
import { Document, HeadingLevel, Packer, Paragraph } from 'docx';
import { PDFDocument, PDFHexString, StandardFonts } from 'pdf-lib';
import { describe, expect, it } from 'vitest';
import { createOrg, type TestOrg } from '../factories.ts';
import { settle, useTestApp } from '../harness.ts';
import { multipart } from './media.ts';

const t = useTestApp({ UPLOAD_LIMIT_BYTES: '200000' });

async function pdf(pages: string[]): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const f = await doc.embedFont(StandardFonts.Helvetica);
  for (const text of pages) doc.addPage([595, 842]).drawText(text, { x: 50, y: 780, size: 12, font: f });
  return Buffer.from(await doc.save());
}

/** A PDF whose trailer says it is encrypted with the standard handler, under a password nobody gave. */
async function encryptedPdf(): Promise<Buffer> {
  const doc = await PDFDocument.create();
  doc.addPage().drawText('secret', { x: 50, y: 700, font: await doc.embedFont(StandardFonts.Helvetica) });
  const ctx = doc.context;
  ctx.trailerInfo.Encrypt = ctx.register(ctx.obj({ Filter: 'Standard', V: 1, R: 2, O: PDFHexString.of('11'.repeat(32)), U: PDFHexString.of('22'.repeat(32)), P: -4 }));
  ctx.trailerInfo.ID = ctx.obj([PDFHexString.of('33'.repeat(16)), PDFHexString.of('33'.repeat(16))]);
  return Buffer.from(await doc.save({ useObjectStreams: false }));
}

async function docx(blocks: Array<{ heading?: string; text: string }>): Promise<Buffer> {
  const children = blocks.flatMap((b) => [...(b.heading ? [new Paragraph({ text: b.heading, heading: HeadingLevel.HEADING_1 })] : []), new Paragraph(b.text)]);
  return Packer.toBuffer(new Document({ sections: [{ children }] }));
}

/** A multipart upload with the optional `options` JSON field. */
const upload = (file: Buffer, filename: string, options?: object) => multipart(file, filename, options ? { options: JSON.stringify(options) } : {});

async function uploadAndWait(org: TestOrg, file: Buffer, filename: string, options?: object) {
  const m = upload(file, filename, options);
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/capture/documents/upload', headers: { ...org.owner.headers, ...m.headers }, payload: m.payload });
  expect(res.statusCode, res.body).toBe(202);
  await t.deps.jobs.drain(30_000);
  const job = (await t.app.inject({ method: 'GET', url: `/api/v1/capture/documents/jobs/${res.json().job_id}`, headers: org.owner.headers })).json();
  const entries = [];
  for (const id of job.entry_ids as string[]) entries.push((await t.app.inject({ method: 'GET', url: `/api/v1/knowledge/${id}`, headers: org.owner.headers })).json());
  return { job, entries };
}

describe('document capture', () => {
  it('turns Markdown into one entry per section, keeping the original linked', async () => {
    const org = await createOrg(t, { plan: 'starter' });
    const md = '# Start-up\n\nOpen valve A, then valve B.\n\n# Shutdown\n\nClose valve B first.\n';
    const { job, entries } = await uploadAndWait(org, Buffer.from(md), 'boiler.md');
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(entries.map((e) => e.title)).toEqual(['Start-up', 'Shutdown']);
    expect(entries[0].source.type).toBe('document');
    expect(entries[0].source.ref).toMatch(/^blob:/);
    const whole = await uploadAndWait(org, Buffer.from(md), 'boiler2.md', { split: 'document' });
    expect(whole.entries).toHaveLength(1);
    expect(whole.entries[0].content).toContain('Close valve B first.');
  });

  it('reads PDF text, DOCX with Arabic headings, HTML main content and CSV rows', async () => {
    const org = await createOrg(t, { plan: 'starter' });
    const p = await uploadAndWait(org, await pdf(['Safety induction: wear the helmet.', 'Second page: report every incident.']), 'induction.pdf', { split: 'document' });
    expect(p.job.status).toBe('succeeded');
    expect(p.entries[0].content).toContain('wear the helmet');
    expect(p.entries[0].content).toContain('report every incident');

    const d = await uploadAndWait(org, await docx([{ heading: 'إجراءات السلامة', text: 'يجب ارتداء الخوذة في الموقع.' }, { heading: 'Handover', text: 'Write the log before leaving.' }]), 'safety.docx');
    expect(d.entries.map((e) => e.title)).toEqual(['إجراءات السلامة', 'Handover']);
    expect(d.entries[0]).toMatchObject({ content: 'يجب ارتداء الخوذة في الموقع.', language: 'ar' });

    const html = '<!doctype html><html><head><title>Gate rules</title></head><body><nav>Home | About | Login</nav><article><h1>Gate rules</h1><p>The north gate closes at ten in the evening every day of the week, and the keys are kept in the guard room next to the car park.</p><p>Visitors must sign the book at the gate and wear a visitor badge at all times while on site.</p></article><footer>© Company</footer></body></html>';
    const h = await uploadAndWait(org, Buffer.from(html), 'gate.html');
    expect(h.entries[0].content).toContain('north gate closes');
    expect(h.entries[0].content).not.toContain('Login');

    const csv = 'title,content\nPump P-1,Lubricate weekly\nالمضخة ٢,افحص الضغط يوميًا\n';
    const c = await uploadAndWait(org, Buffer.from(csv), 'pumps.csv');
    expect(c.entries.map((e) => [e.title, e.content])).toEqual([
      ['Pump P-1', 'Lubricate weekly'],
      ['المضخة ٢', 'افحص الضغط يوميًا'],
    ]);
  });

  it('reads an Arabic PDF, one entry per page, found by an Arabic question', async () => {
    const org = await createOrg(t, { plan: 'starter' });
    // Made with pdf-lib and a subset of DejaVu Sans: an embedded TrueType font with a ToUnicode map, as office suites write.
    const p = await uploadAndWait(org, fs.readFileSync(new URL('../fixtures/arabic.pdf', import.meta.url)), 'safety.pdf');
    expect(p.job).toMatchObject({ status: 'succeeded', result: { sections: 2, errors: [] } });
    expect(p.entries.map((e) => e.language)).toEqual(['ar', 'ar']);
    expect(p.entries[0].content).toContain('صمام');
    expect(p.entries[1].content).toContain('الضغط');
    await settle(t);
    const res = (await t.app.inject({ method: 'GET', url: `/api/v1/query/search?q=${encodeURIComponent('متى أفحص صمام الأمان؟')}`, headers: org.owner.headers })).json();
    expect(res.items[0].entry_id).toBe(p.entries[0].id);
  });

  it('refuses unsupported or mismatched types (415) and too large files (413); a corrupt or encrypted file fails its job at once', async () => {
    const org = await createOrg(t, { plan: 'starter' });
    const up = (file: Buffer, name: string) => {
      const m = multipart(file, name);
      return t.app.inject({ method: 'POST', url: '/api/v1/capture/documents/upload', headers: { ...org.owner.headers, ...m.headers }, payload: m.payload });
    };
    const exe = await up(Buffer.from([0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0xff, 0xff]), 'tool.exe');
    expect(exe.statusCode).toBe(415);
    const mismatch = await up(Buffer.from('just some text pretending'), 'report.pdf');
    expect(mismatch.statusCode).toBe(415);
    expect(mismatch.json().error.details).toMatchObject({ detected: 'text', claimed: 'pdf' });
    const big = await up(Buffer.alloc(300_000, 'a'), 'big.txt');
    expect(big.statusCode).toBe(413);
    const corrupt = await uploadAndWait(org, Buffer.from('%PDF-1.7\n%broken beyond repair\n'), 'broken.pdf');
    expect(corrupt.job).toMatchObject({ status: 'failed', attempts: 1 });
    expect(corrupt.job.error.code).toBe('DOCUMENT_UNREADABLE');
    const locked = await uploadAndWait(org, await encryptedPdf(), 'locked.pdf');
    expect(locked.job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'DOCUMENT_ENCRYPTED' } });
    // A zip that names a Word part but is cut short: recognised as DOCX, unreadable as one.
    const brokenDocx = await uploadAndWait(org, Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.from('word/document.xml'), Buffer.alloc(200, 7)]), 'broken.docx');
    expect(brokenDocx.job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'DOCUMENT_UNREADABLE' } });
    // Readable but with no text: a scanned (image-only) PDF, a page of scripts, a CSV with only its header.
    const blank = await PDFDocument.create();
    blank.addPage();
    blank.addPage();
    for (const [file, name] of [
      [Buffer.from(await blank.save()), 'scan.pdf'],
      [Buffer.from('<!doctype html><html><head><title>x</title></head><body><script>track()</script></body></html>'), 'empty.html'],
      [Buffer.from('title,content\n'), 'empty.csv'],
    ] as const) {
      const empty = await uploadAndWait(org, file, name);
      expect(empty.job, name).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'DOCUMENT_EMPTY' }, entry_ids: [] });
    }
  });

  it('is Starter+, and jobs of another organisation are 404', async () => {
    const trial = await createOrg(t, { plan: 'trial' });
    const m = multipart(Buffer.from('# x\n\ny'), 'a.md');
    const gated = await t.app.inject({ method: 'POST', url: '/api/v1/capture/documents/upload', headers: { ...trial.owner.headers, ...m.headers }, payload: m.payload });
    expect(gated.statusCode).toBe(403);
    expect(gated.json().error).toMatchObject({ code: 'PLAN_UPGRADE_REQUIRED', details: { required_plan: 'starter' } });
    const a = await createOrg(t, { plan: 'starter' });
    const { job } = await uploadAndWait(a, Buffer.from('# A\n\ntext'), 'a.md');
    const b = await createOrg(t, { plan: 'starter' });
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/capture/documents/jobs/${job.id}`, headers: b.owner.headers })).statusCode).toBe(404);
    const listA = (await t.app.inject({ method: 'GET', url: '/api/v1/capture/documents/jobs', headers: a.owner.headers })).json();
    expect(listA.items.map((j: { id: string }) => j.id)).toEqual([job.id]);
  });
});
