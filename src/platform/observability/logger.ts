import { pino, type Logger } from 'pino';

const SENSITIVE_QUERY = /([?&](?:token|access_token|refresh_token|id_token|key|api_key|password|secret|code|client_secret)=)[^&#]*/gi;

/** Masks credential-bearing query parameters in a URL before it is logged. */
export function redactUrl(url: string): string {
  return url.replace(SENSITIVE_QUERY, '$1[redacted]');
}

/** Paths pino removes from every log line, whatever module logs the object. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-setup-token"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.current_password',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.api_key',
  '*.apiKey',
  '*.secret',
  '*.client_secret',
  '*.encryptionKey',
  '*.privateKey',
];

/** The process logger: JSON lines, credentials redacted. */
export function createLogger(level: string, stream?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'tadween' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: {
        req(req: { method: string; url: string; ip?: string; headers?: Record<string, unknown> }) {
          return {
            method: req.method,
            url: redactUrl(req.url),
            ip: req.ip,
            ...(req.headers?.['user-agent'] ? { user_agent: req.headers['user-agent'] } : {}),
          };
        },
        res(res: { statusCode: number }) {
          return { status_code: res.statusCode };
        },
        err: pino.stdSerializers.err,
      },
    },
    stream as pino.DestinationStream | undefined,
  );
}
