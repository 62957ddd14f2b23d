import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net, { type LookupFunction } from 'node:net';
import { AppError, defineErrors } from '../http/errors.ts';
import { blockedReason } from './addresses.ts';

defineErrors({
  URL_NOT_ALLOWED: {
    status: 422,
    en: 'This URL is not allowed as an outbound target ({reason}): it must be a public http(s) address.',
    ar: 'لا يُسمح بهذا الرابط وجهةً للإرسال ({reason}): يجب أن يكون عنوان http(s) عامًّا.',
  },
});

/** Which targets an outbound call may reach. */
export interface OutboundPolicy {
  /** Allow loopback, private, link-local and other non-public addresses (tests, trusted networks). */
  allowPrivate: boolean;
  /** Refuse plain http (production). */
  requireHttps: boolean;
}

/** Why a URL was refused: a BlockedReason of its address, or a problem with the URL itself. */
export type UrlRefusal =
  | 'invalid_url'
  | 'unsupported_scheme'
  | 'https_required'
  | 'credentials_in_url'
  | 'unresolvable'
  | NonNullable<ReturnType<typeof blockedReason>>;

const DNS_TIMEOUT_MS = 5_000;

/** Resolves every address of `host` (A and AAAA), with a time limit. */
async function resolveAll(host: string): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('DNS lookup timed out')), DNS_TIMEOUT_MS);
  });
  try {
    const found = await Promise.race([dns.promises.lookup(host, { all: true, verbatim: true }), timeout]);
    return found.map((a) => a.address);
  } finally {
    clearTimeout(timer);
  }
}

/** The host of a URL without IPv6 brackets. */
function bareHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

/**
 * Checks a URL against the policy: http(s) only, no credentials, https in production, and (unless
 * private targets are allowed) every address its host resolves to must be public.
 */
export async function checkOutboundUrl(raw: string, policy: OutboundPolicy): Promise<{ ok: true; url: URL } | { ok: false; reason: UrlRefusal }> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'invalid_url' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: 'unsupported_scheme' };
  if (policy.requireHttps && url.protocol !== 'https:') return { ok: false, reason: 'https_required' };
  if (url.username || url.password) return { ok: false, reason: 'credentials_in_url' };
  if (policy.allowPrivate) return { ok: true, url };
  const host = bareHost(url);
  if (net.isIP(host)) {
    const reason = blockedReason(host);
    return reason ? { ok: false, reason } : { ok: true, url };
  }
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return { ok: false, reason: 'loopback' };
  let addresses: string[];
  try {
    addresses = await resolveAll(host);
  } catch {
    return { ok: false, reason: 'unresolvable' };
  }
  if (addresses.length === 0) return { ok: false, reason: 'unresolvable' };
  for (const a of addresses) {
    const reason = blockedReason(a);
    if (reason) return { ok: false, reason };
  }
  return { ok: true, url };
}

/** Like checkOutboundUrl, but throws 422 URL_NOT_ALLOWED with `details.reason`. */
export async function assertOutboundUrl(raw: string, policy: OutboundPolicy, field = 'url'): Promise<URL> {
  const r = await checkOutboundUrl(raw, policy);
  if (!r.ok) throw new AppError('URL_NOT_ALLOWED', { reason: r.reason, field });
  return r.url;
}

/** A connection-time DNS lookup that refuses non-public addresses, so a re-pointed name (DNS rebinding) cannot slip through. */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const list = addresses as dns.LookupAddress[];
    const bad = list.find((a) => blockedReason(a.address));
    if (bad || list.length === 0) {
      const e = Object.assign(new Error(`${hostname} resolves to a non-public address (${bad ? blockedReason(bad.address) : 'none'})`), {
        code: 'URL_NOT_ALLOWED',
      });
      return callback(e, '', 0);
    }
    if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
    return callback(null, list[0]!.address, list[0]!.family);
  });
};

export interface OutboundRequest {
  url: string;
  method?: 'POST' | 'GET' | 'PUT';
  headers?: Record<string, string>;
  body?: string | Buffer;
  policy: OutboundPolicy;
  /** Time allowed from the start until the response headers (and as much body as arrives). */
  timeoutMs: number;
  /** Largest response body kept; the rest is not read. */
  maxResponseBytes: number;
  signal?: AbortSignal;
}

export interface OutboundResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Whether the body was cut at maxResponseBytes or by the deadline. */
  truncated: boolean;
  durationMs: number;
}

/** Why an outbound call produced no response. */
export class OutboundError extends Error {
  constructor(
    readonly code: 'TIMEOUT' | 'NETWORK_ERROR' | 'URL_NOT_ALLOWED' | 'ABORTED',
    message: string,
    readonly durationMs: number,
  ) {
    super(message);
    this.name = 'OutboundError';
  }
}

/**
 * Sends one HTTP request to a tenant-supplied URL safely: the policy is checked first and again at
 * connection time (every resolved address must be public), redirects are not followed (a 3xx is
 * returned as is), nothing is pooled, the whole exchange has a deadline, and at most
 * `maxResponseBytes` of the body are read.
 */
export async function sendOutbound(req: OutboundRequest): Promise<OutboundResponse> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const check = await checkOutboundUrl(req.url, req.policy);
  if (!check.ok) throw new OutboundError('URL_NOT_ALLOWED', `The URL is not allowed (${check.reason}).`, elapsed());
  const url = check.url;
  const client = url.protocol === 'https:' ? https : http;
  const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8');

  return new Promise<OutboundResponse>((resolve, reject) => {
    let settled = false;
    let response: { status: number; headers: http.IncomingHttpHeaders; chunks: Buffer[]; size: number } | undefined;
    const finish = (truncated: boolean) => {
      if (settled || !response) return;
      settled = true;
      cleanup();
      resolve({ status: response.status, headers: response.headers, body: Buffer.concat(response.chunks), truncated, durationMs: elapsed() });
    };
    const fail = (err: OutboundError) => {
      if (settled) return;
      settled = true;
      cleanup();
      reject(err);
    };

    const request = client.request({
      protocol: url.protocol,
      hostname: bareHost(url),
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      method: req.method ?? 'POST',
      headers: { ...req.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
      agent: false,
      ...(req.policy.allowPrivate ? {} : { lookup: guardedLookup }),
    });

    const timer = setTimeout(() => {
      // With the status in hand the attempt has its answer; only a missing response is a timeout.
      if (response) {
        finish(true);
        request.destroy();
        return;
      }
      fail(new OutboundError('TIMEOUT', `No response within ${req.timeoutMs} ms.`, elapsed()));
      request.destroy();
    }, req.timeoutMs);
    const onAbort = () => {
      fail(new OutboundError('ABORTED', 'The request was aborted.', elapsed()));
      request.destroy();
    };
    req.signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => {
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
    };
    if (req.signal?.aborted) onAbort();

    request.on('response', (res) => {
      response = { status: res.statusCode ?? 0, headers: res.headers, chunks: [], size: 0 };
      const r = response;
      res.on('data', (chunk: Buffer) => {
        const room = req.maxResponseBytes - r.size;
        if (chunk.length >= room) {
          if (room > 0) r.chunks.push(chunk.subarray(0, room));
          r.size = req.maxResponseBytes;
          finish(chunk.length > room);
          res.destroy();
          return;
        }
        r.chunks.push(chunk);
        r.size += chunk.length;
      });
      res.on('end', () => finish(false));
      res.on('error', () => finish(true));
      res.on('close', () => finish(!res.complete));
    });
    request.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'URL_NOT_ALLOWED') return fail(new OutboundError('URL_NOT_ALLOWED', err.message, elapsed()));
      fail(new OutboundError('NETWORK_ERROR', err.code ? `${err.code}: ${err.message}` : err.message, elapsed()));
    });
    request.end(body);
  });
}
