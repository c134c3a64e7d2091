// The pino factory: JSON lines to stdout, secrets redacted; pretty output only when asked for (development).

import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Header and config paths that must never reach a log line. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-nuget-apikey"]',
  'req.headers["proxy-authorization"]',
  'headers.authorization',
  'headers["proxy-authorization"]',
  'config.upstreamPassword',
  'config.upstreamToken',
  'config.upstreamHeader',
  'password',
  'token',
];

export function createLogger(options: { level: string; format: 'json' | 'pretty' }, destination?: pino.DestinationStream): Logger {
  const base = {
    level: options.level,
    base: { service: 'nuget-proxy' },
    redact: { paths: REDACT_PATHS, censor: '***' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (options.format === 'pretty' && !destination) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return destination ? pino(base, destination) : pino(base);
}
