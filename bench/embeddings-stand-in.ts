// A deliberately weak embeddings server for benchmarks on a machine without an embedding model: answers the
// OpenAI-compatible POST /v1/embeddings with hashed bags of words (256 dimensions, no IDF, no knowledge of
// meaning or of other languages). It exercises hybrid search end to end and shows what a weak dense side costs
// a strong lexical one; it says nothing of what a real embedding model would reach.
// Usage: npx tsx bench/embeddings-stand-in.ts [port]   (default 18555), then
//        EMBEDDINGS_BASE_URL=http://127.0.0.1:18555/v1 EMBEDDINGS_MODEL=stand-in npm run bench:retrieval
import http from 'node:http';

const DIMS = 256;
const port = Number(process.argv[2] ?? 18555);

/** FNV-1a hash of each word into one of DIMS buckets, the counts normalised to unit length. */
function embed(text: string): number[] {
  const v = new Array<number>(DIMS).fill(0);
  for (const word of text.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
    if (!word) continue;
    let h = 2166136261;
    for (const c of word) h = Math.imul(h ^ c.codePointAt(0)!, 16777619);
    v[(h >>> 0) % DIMS]! += 1;
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

http
  .createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    if (req.method !== 'POST' || !req.url?.endsWith('/embeddings')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'only POST /v1/embeddings is served' } }));
      return;
    }
    const { input, model } = JSON.parse(body || '{}') as { input?: string | string[]; model?: string };
    const inputs = Array.isArray(input) ? input : [input ?? ''];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        object: 'list',
        data: inputs.map((s, index) => ({ object: 'embedding', index, embedding: embed(String(s)) })),
        model: model ?? 'stand-in',
        usage: { prompt_tokens: 0, total_tokens: 0 },
      }),
    );
  })
  .listen(port, '127.0.0.1', () => console.log(`embeddings stand-in on http://127.0.0.1:${port}/v1`));
