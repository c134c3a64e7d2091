// The pino factory: JSON lines to stdout with level names ("level":"info", as Loki, ELK and Datadog expect),
// secrets redacted (an unset one stays null); pretty output only when asked for (development).

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
    // A secret that is not set is shown as such (null), not as '***' that reads as "set".
    redact: { paths: REDACT_PATHS, censor: (value: unknown) => (value === null || value === undefined ? value : '***') },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (options.format === 'pretty' && !destination) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return destination ? pino(base, destination) : pino(base);
}
