import { createHash, createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Who the double accepts and how it misbehaves; each field may be replaced by a test. */
export interface S3DoubleBehaviour {
  bucket: string;
  accessKeyId: string;
  /** When set, the SigV4 signature itself is verified, so a wrong secret is refused like a real server would. */
  secretAccessKey?: string;
  /** Delay every response by this many ms (for timeout tests). */
  delayMs?: number;
}

/** One request as the double saw it; `body` is the decoded payload (aws-chunked framing removed). */
export interface S3DoubleRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The bytes on the wire, before aws-chunked decoding. */
  raw: Buffer;
}

const xmlEscape = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

// RFC 3986 encoding, as SigV4 canonicalisation requires (encodeURIComponent leaves !'()* alone).
const uriEncode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * Decodes an `aws-chunked` body: `<hex size>[;chunk-signature=…]\r\n<data>\r\n` … `0[;…]\r\n`, then optional
 * trailer lines (`x-amz-checksum-crc32:…`) and a blank line. Chunk signatures and trailer checksums are not verified.
 */
export function decodeAwsChunked(raw: Buffer): { body: Buffer; trailers: Record<string, string> } {
  const parts: Buffer[] = [];
  const trailers: Record<string, string> = {};
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) throw new Error('aws-chunked: missing chunk header');
    const size = parseInt(raw.subarray(at, eol).toString('latin1').split(';')[0]!, 16);
    if (!Number.isFinite(size)) throw new Error('aws-chunked: bad chunk size');
    at = eol + 2;
    if (size === 0) break;
    parts.push(raw.subarray(at, at + size));
    at += size + 2;
  }
  for (const line of raw.subarray(at).toString('latin1').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) trailers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { body: Buffer.concat(parts), trailers };
}

/** The SigV4 signature the request should carry, from its method, raw path and query, signed headers and payload hash. */
function expectedSignature(req: http.IncomingMessage, secret: string, credential: string, signedHeaders: string): string {
  const [pathname = '/', query = ''] = (req.url ?? '/').split('?', 2);
  const canonicalQuery = query
    .split('&')
    .filter(Boolean)
    .map((p) => {
      const i = p.indexOf('=');
      const [k, v] = i < 0 ? [p, ''] : [p.slice(0, i), p.slice(i + 1)];
      return [uriEncode(decodeURIComponent(k)), uriEncode(decodeURIComponent(v))] as const;
    })
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : av > bv ? 1 : 0) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const names = signedHeaders.split(';');
  const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const payloadHash = String(req.headers['x-amz-content-sha256'] ?? 'UNSIGNED-PAYLOAD');
  // S3 signs the path as sent (encoded once), unlike other services which encode it a second time.
  const canonicalRequest = [req.method, pathname, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const [, date = '', region = '', service = ''] = credential.split('/');
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    String(req.headers['x-amz-date'] ?? ''),
    credential.split('/').slice(1).join('/'),
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${secret}`).update(date).digest();
  for (const part of [region, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

/**
 * A local HTTP test double of the S3 API, path-style (`/{bucket}/{key}`): PUT, GET, HEAD and DELETE of objects,
 * SigV4 `Authorization` checked (access key id always, signature when a secret is given), S3 XML errors.
 */
export async function startS3Double(behaviour: Partial<S3DoubleBehaviour> = {}) {
  const b: S3DoubleBehaviour = { bucket: 'test-bucket', accessKeyId: 'TESTACCESSKEY', ...behaviour };
  const objects = new Map<string, Buffer>();
  const requests: S3DoubleRequest[] = [];

  const server = http.createServer(async (req, res) => {
    try {
      await handle(req, res);
    } catch (e) {
      // A bug or a malformed request in the double must fail the test loudly, not leave the client waiting.
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>${xmlEscape(String(e))}</Message></Error>`);
    }
  });
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').replace(/\?.*$/, '');
    const error = (status: number, code: string, message: string, extra = '') => {
      res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': randomUUID() });
      // HEAD responses carry no body, as on S3 (the SDK then reports the status, e.g. NotFound).
      res.end(
        method === 'HEAD'
          ? undefined
          : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>${extra}<RequestId>${randomUUID()}</RequestId></Error>`,
      );
    };

    let body: Buffer = raw;
    const streaming = String(req.headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-');
    const chunked = String(req.headers['content-encoding'] ?? '').split(',').some((e) => e.trim() === 'aws-chunked');
    try {
      if (streaming || chunked) body = decodeAwsChunked(raw).body;
    } catch (e) {
      requests.push({ method, path, headers: req.headers, body, raw });
      return error(400, 'IncompleteBody', (e as Error).message);
    }
    requests.push({ method, path, headers: req.headers, body, raw });
    if (b.delayMs) await new Promise((r) => setTimeout(r, b.delayMs));

    const auth = /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)$/.exec(
      String(req.headers.authorization ?? ''),
    );
    if (!auth) return error(403, 'AccessDenied', 'Missing or malformed AWS4-HMAC-SHA256 Authorization header.');
    const [, credential = '', signedHeaders = '', signature = ''] = auth;
    if (credential.split('/')[0] !== b.accessKeyId) {
      return error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
    }
    if (b.secretAccessKey !== undefined && expectedSignature(req, b.secretAccessKey, credential, signedHeaders) !== signature) {
      return error(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
    }
    const payloadHash = String(req.headers['x-amz-content-sha256'] ?? '');
    if (/^[0-9a-f]{64}$/.test(payloadHash) && createHash('sha256').update(raw).digest('hex') !== payloadHash) {
      return error(400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
    }

    const m = /^\/([^/]+)\/(.+)$/.exec(path);
    const bucket = decodeURIComponent(m?.[1] ?? path.split('/')[1] ?? '');
    if (bucket !== b.bucket) return error(404, 'NoSuchBucket', 'The specified bucket does not exist.', `<BucketName>${xmlEscape(bucket)}</BucketName>`);
    if (!m) return error(501, 'NotImplemented', `The double does not implement ${method} ${path}.`);
    const key = decodeURIComponent(m[2]!);
    const etag = (buf: Buffer) => `"${createHash('md5').update(buf).digest('hex')}"`;

    switch (method) {
      case 'PUT': {
        objects.set(key, body);
        res.writeHead(200, { etag: etag(body) });
        return res.end();
      }
      case 'GET':
      case 'HEAD': {
        const obj = objects.get(key);
        if (!obj) return error(404, 'NoSuchKey', 'The specified key does not exist.', `<Key>${xmlEscape(key)}</Key>`);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': obj.length, etag: etag(obj) });
        return res.end(method === 'HEAD' ? undefined : obj);
      }
      case 'DELETE': {
        // S3 answers 204 whether or not the key existed.
        objects.delete(key);
        res.writeHead(204);
        return res.end();
      }
      default:
        return error(405, 'MethodNotAllowed', `The specified method is not allowed against this resource.`);
    }
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    behaviour: b,
    objects,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
