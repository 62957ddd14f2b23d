import type { FastifyReply, FastifyRequest } from 'fastify';

/** An open Server-Sent Events stream on a reply. */
export interface SseStream {
  /** Sends one event; JSON data is serialised on a single line. */
  send(event: string, data: unknown): void;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  close(): void;
}

/** Whether the client asked for an event stream. */
export function wantsEventStream(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').split(',').some((t) => t.trim().toLowerCase().startsWith('text/event-stream'));
}

/**
 * Takes over the reply to stream Server-Sent Events (text/event-stream), keeping the request id
 * and trace headers already set. The caller must `close()` when done.
 */
export function openEventStream(request: FastifyRequest, reply: FastifyReply): SseStream {
  const ac = new AbortController();
  reply.hijack();
  const raw = reply.raw;
  const headers: Record<string, string | number | string[]> = {};
  for (const [k, v] of Object.entries(reply.getHeaders())) if (v !== undefined) headers[k] = v as string | number | string[];
  raw.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  request.raw.on('close', () => ac.abort());
  let closed = false;
  return {
    signal: ac.signal,
    send(event, data) {
      if (closed || raw.writableEnded) return;
      raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    close() {
      if (closed) return;
      closed = true;
      raw.end();
    },
  };
}
