import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** One XQuAD paragraph with its questions (the same ids in every language). */
export interface XquadParagraph {
  index: number;
  title: string;
  context: string;
  questions: Array<{ id: string; question: string; answers: string[] }>;
}

interface SquadFile {
  data: Array<{ title: string; paragraphs: Array<{ context: string; qas: Array<{ id: string; question: string; answers: Array<{ text: string }> }> }> }>;
}

/** Where the XQuAD files live: XQUAD_DIR, else the shared data folder beside the repository. */
export function xquadDir(): string {
  if (process.env.XQUAD_DIR) return process.env.XQUAD_DIR;
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '../../shared/data/xquad');
}

/** Loads the paragraphs of one language ('ar' or 'en'). */
export function loadXquad(lang: 'ar' | 'en'): XquadParagraph[] {
  const file = path.join(xquadDir(), `xquad.${lang}.json`);
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as SquadFile;
  const out: XquadParagraph[] = [];
  for (const article of json.data) {
    for (const p of article.paragraphs) {
      out.push({
        index: out.length,
        title: article.title,
        context: p.context,
        questions: p.qas.map((q) => ({ id: q.id, question: q.question, answers: q.answers.map((a) => a.text) })),
      });
    }
  }
  return out;
}

/** Recall@k and MRR@10 from the 1-based rank of the relevant document (0 = not found). */
export function retrievalMetrics(ranks: number[]) {
  const n = ranks.length || 1;
  const recall = (k: number) => ranks.filter((r) => r > 0 && r <= k).length / n;
  const mrr = ranks.reduce((acc, r) => acc + (r > 0 && r <= 10 ? 1 / r : 0), 0) / n;
  return { r1: recall(1), r5: recall(5), r10: recall(10), mrr10: mrr };
}

/** The p-th percentile (0..100) of a list of numbers. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}
