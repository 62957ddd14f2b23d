import { Readability } from '@mozilla/readability';
import { parseHTML } from 'linkedom';
import mammoth from 'mammoth';
import Papa from 'papaparse';
import { extractText, getDocumentProxy } from 'unpdf';
import { PermanentJobError } from '../../platform/jobs/jobs.ts';

export type DocumentKind = 'pdf' | 'docx' | 'html' | 'markdown' | 'text' | 'csv';

/** One piece of a document that becomes an entry. */
export interface Section {
  title: string;
  content: string;
}

function isProbablyText(b: Uint8Array): boolean {
  const sample = b.subarray(0, 4096);
  let control = 0;
  for (const c of sample) if (c === 0 || (c < 9 && c !== 0) || (c > 13 && c < 32)) control += 1;
  return control === 0;
}

/**
 * Detects the document type from its bytes. Text formats cannot be told apart by bytes alone, so the
 * file name chooses among them (markdown, csv, plain text) only once the bytes are known to be text.
 */
export function detectDocument(bytes: Uint8Array, filename: string): DocumentKind | undefined {
  const head = Buffer.from(bytes.subarray(0, 2048)).toString('latin1');
  if (head.startsWith('%PDF-')) return 'pdf';
  if (head.startsWith('PK\u0003\u0004')) return head.includes('word/') || Buffer.from(bytes).includes('word/document.xml') ? 'docx' : undefined;
  if (!isProbablyText(bytes)) return undefined;
  const text = Buffer.from(bytes.subarray(0, 2048)).toString('utf8').trimStart().toLowerCase();
  if (text.startsWith('<!doctype html') || text.startsWith('<html') || /<(body|article|main|p)[\s>]/.test(text.slice(0, 500))) return 'html';
  const name = filename.toLowerCase();
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.md') || name.endsWith('.markdown')) return 'markdown';
  return 'text';
}

/** The kind a file name claims, to refuse a mismatch (a .pdf that is not a PDF). */
export function claimedKind(filename: string): DocumentKind | undefined {
  const ext = filename.toLowerCase().split('.').pop() ?? '';
  return ({ pdf: 'pdf', docx: 'docx', html: 'html', htm: 'html', md: 'markdown', markdown: 'markdown', txt: 'text', csv: 'csv' } as const)[ext as 'pdf'];
}

/** Splits Markdown-like text into sections at headings; text before the first heading is its own section. */
export function splitSections(text: string, fallbackTitle: string): Section[] {
  const out: Section[] = [];
  let title = fallbackTitle;
  let buf: string[] = [];
  const flush = () => {
    const content = buf.join('\n').trim();
    if (content) out.push({ title, content });
    buf = [];
  };
  for (const line of text.replace(/\r/g, '').split('\n')) {
    const h = /^#{1,3}\s+(.+)$/.exec(line.trim());
    if (h) {
      flush();
      title = h[1]!.trim().slice(0, 300);
      continue;
    }
    buf.push(line);
  }
  flush();
  return out;
}

/** Parses a document into sections (or one section), with established parsers for each format; no text at all fails. */
export async function parseDocument(bytes: Uint8Array, kind: DocumentKind, name: string, split: 'sections' | 'document', csvMapping?: { title?: string; content?: string }): Promise<Section[]> {
  const sections = await parse(bytes, kind, name, split, csvMapping);
  if (sections.length === 0) throw new PermanentJobError('DOCUMENT_EMPTY', 'No text could be extracted from the document (a scanned PDF needs OCR first).');
  return sections;
}

async function parse(bytes: Uint8Array, kind: DocumentKind, name: string, split: 'sections' | 'document', csvMapping?: { title?: string; content?: string }): Promise<Section[]> {
  const base = name.replace(/\.[^.]+$/, '') || 'Document';
  let text: string;
  try {
    switch (kind) {
      case 'pdf': {
        const pdf = await getDocumentProxy(new Uint8Array(bytes));
        const { text: pages } = await extractText(pdf, { mergePages: false });
        const texts = (pages as string[]).map((p) => p.trim());
        // PDF text carries no headings: "sections" means one entry per page that has text.
        if (split === 'sections' && texts.length > 1) {
          return texts.map((content, i) => ({ title: `${base} — ${i + 1}`.slice(0, 300), content })).filter((x) => x.content.length > 0);
        }
        text = texts.join('\n\n');
        break;
      }
      case 'docx': {
        // Headings become Markdown headings so "sections" splitting follows the document's own structure.
        const html = (await mammoth.convertToHtml({ buffer: Buffer.from(bytes) })).value;
        const { document } = parseHTML(`<html><body>${html}</body></html>`);
        const lines: string[] = [];
        for (const el of Array.from(document.body.children) as Array<{ tagName: string; textContent: string | null }>) {
          const t = (el.textContent ?? '').trim();
          if (!t) continue;
          const m = /^H([1-3])$/.exec(el.tagName.toUpperCase());
          lines.push(m ? `${'#'.repeat(Number(m[1]))} ${t}` : t);
        }
        text = lines.join('\n\n');
        break;
      }
      case 'html': {
        const { document } = parseHTML(Buffer.from(bytes).toString('utf8'));
        const article = new Readability(document as unknown as ConstructorParameters<typeof Readability>[0]).parse();
        const title = article?.title?.trim();
        const body = (article?.textContent ?? '').replace(/\n{3,}/g, '\n\n').trim();
        return body ? [{ title: title || base, content: body }] : [];
      }
      case 'csv': {
        const parsed = Papa.parse<Record<string, string>>(Buffer.from(bytes).toString('utf8').replace(/^\uFEFF/, ''), { header: true, skipEmptyLines: 'greedy' });
        const cols = parsed.meta.fields ?? [];
        const titleCol = csvMapping?.title ?? cols.find((c) => /^(title|name|العنوان)$/i.test(c)) ?? cols[0];
        const contentCol = csvMapping?.content ?? cols.find((c) => /^(content|body|text|description|المحتوى)$/i.test(c));
        return parsed.data
          .map((row, i) => {
            const content = contentCol ? (row[contentCol] ?? '') : cols.map((c) => `${c}: ${row[c] ?? ''}`).join('\n');
            return { title: (titleCol ? row[titleCol] : '')?.trim().slice(0, 300) || `${base} ${i + 1}`, content: content.trim() };
          })
          .filter((s) => s.content.length > 0);
      }
      case 'markdown':
      case 'text':
        text = Buffer.from(bytes).toString('utf8');
        break;
    }
  } catch (err) {
    const message = (err as Error).message ?? '';
    if (/password|encrypt/i.test(message)) throw new PermanentJobError('DOCUMENT_ENCRYPTED', 'The document is encrypted or password-protected.');
    throw new PermanentJobError('DOCUMENT_UNREADABLE', `The ${kind} file could not be read: it is corrupt or not a valid ${kind}.`);
  }
  const clean = text.trim();
  if (!clean) return [];
  return split === 'document' ? [{ title: base.slice(0, 300), content: clean }] : splitSections(clean, base.slice(0, 300));
}
