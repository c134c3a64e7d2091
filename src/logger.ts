// The pino factory: JSON lines to stdout with level names ("level":"info", as Loki, ELK and Datadog expect),
// secrets redacted (an unset one stays null); pretty output only when asked for (development). Lines are
// buffered and written asynchronously (one write per 64 KB, at least every quarter second), never a write
// per request; the buffer is flushed on stop and on exit.

import { write, writeSync } from 'node:fs';
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

/** At most this long between a line and its write. */
const FLUSH_INTERVAL_MS = 250;
/** A write as soon as this much is buffered. */
const WRITE_BYTES = 64 * 1024;
/** A stdout nobody reads must not grow the buffer without bound: past this, lines are dropped (and counted). */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/**
 * Log lines to a file descriptor through a buffer: a line costs an array push; one asynchronous write
 * carries many lines (sonic-boom's asynchronous mode re-measures its growing buffer on every line).
 */
export class LineBuffer {
  private lines: string[] = [];
  private bytes = 0;
  private writing = false;
  private dropped = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly fd: number,
    private readonly maxBufferedBytes = MAX_BUFFERED_BYTES,
  ) {
    this.timer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
    process.once('exit', () => this.flushSync());
  }

  write(line: string): void {
    if (this.bytes + line.length > this.maxBufferedBytes) {
      this.dropped++;
      return;
    }
    this.lines.push(line);
    this.bytes += line.length;
    if (this.bytes >= WRITE_BYTES && !this.writing) this.flush();
  }

  private take(): Buffer | null {
    if (this.dropped > 0) {
      this.lines.push(`${JSON.stringify({ level: 'warn', time: new Date().toISOString(), msg: 'log lines dropped: stdout did not keep up', dropped: this.dropped })}\n`);
      this.dropped = 0;
    }
    if (this.lines.length === 0) return null;
    const data = Buffer.from(this.lines.join(''), 'utf8');
    this.lines = [];
    this.bytes = 0;
    return data;
  }

  /** Writes what is buffered; `done` runs once it is written (or failed). */
  flush(done?: () => void): void {
    if (done) this.waiting.push(done);
    if (this.writing) return;
    const data = this.take();
    if (!data) {
      for (const cb of this.waiting.splice(0)) cb();
      return;
    }
    this.writing = true;
    const writeFrom = (offset: number): void => {
      write(this.fd, data, offset, data.length - offset, null, (err, n) => {
        if (err && err.code === 'EAGAIN') {
          setTimeout(() => writeFrom(offset), 10).unref();
          return;
        }
        if (!err && offset + n < data.length) {
          writeFrom(offset + n);
          return;
        }
        this.writing = false;
        // Whatever arrived meanwhile goes next; callers waiting for a flush wait for that too.
        if (this.lines.length > 0 || this.dropped > 0) this.flush();
        else for (const cb of this.waiting.splice(0)) cb();
      });
    };
    writeFrom(0);
  }

  /** On exit: no event loop left, so the rest goes out synchronously. */
  flushSync(): void {
    clearInterval(this.timer);
    const data = this.take();
    for (let offset = 0, tries = 0; data && offset < data.length && tries < 1000; tries++) {
      try {
        offset += writeSync(this.fd, data, offset, data.length - offset);
      } catch {
        // EAGAIN on a non-blocking pipe: try again (bounded).
      }
    }
  }
}

/** Writes what the logger holds in its buffer (on stop: nothing is lost when the process exits next). */
export function flushLogs(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    try {
      log.flush(() => resolve());
    } catch {
      resolve();
    }
  });
}

let isoMs = -1;
let isoText = '';

/**
 * pino's isoTime, formatted once per millisecond: under load many lines share a millisecond, and
 * Date#toISOString showed in the profile of a served cache hit.
 */
export function cachedIsoTime(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = `,"time":"${new Date(now).toISOString()}"`;
  }
  return isoText;
}

const literals = new Map<string, string>();
const MAX_LITERALS = 1000;

/**
 * A string as JSON, remembered for values from small fixed sets written on every request line (messages,
 * methods, route templates, cache results, resources); past MAX_LITERALS values it just serializes.
 */
export function jsonLiteral(value: string): string {
  let json = literals.get(value);
  if (json === undefined) {
    json = JSON.stringify(value);
    if (literals.size < MAX_LITERALS) literals.set(value, json);
  }
  return json;
}

/**
 * Writes lines in the logger's shape (level name, time, its bindings, the fields, msg) from fields the
 * caller serialized itself, skipping pino's generic serializer and its redaction: for lines written per
 * request, whose fields are fixed and hold no secret (request-log.ts). Uses pino's documented symbols for
 * library authors: the logger's stream, its serialized bindings and its time function.
 */
export class RawLines {
  private readonly stream: { write(line: string): unknown };
  private readonly bindings: string;
  private readonly time: () => string;

  constructor(private readonly log: Logger) {
    const internals = log as unknown as Record<symbol, unknown>;
    this.stream = internals[pino.symbols.streamSym] as { write(line: string): unknown };
    this.bindings = (internals[pino.symbols.chindingsSym] as string | undefined) ?? '';
    this.time = (internals[pino.symbols.timeSym] as (() => string) | undefined) ?? cachedIsoTime;
  }

  enabled(level: 'info' | 'debug'): boolean {
    return this.log.isLevelEnabled(level);
  }

  /** `fields`: serialized members without braces (`"a":1,"b":"x"`); `msg` (a fixed text) is escaped here. */
  write(level: 'info' | 'debug', fields: string, msg: string): void {
    if (!this.log.isLevelEnabled(level)) return;
    this.stream.write(`{"level":"${level}"${this.time()}${this.bindings},${fields},"msg":${jsonLiteral(msg)}}\n`);
  }
}

export function createLogger(options: { level: string; format: 'json' | 'pretty' }, destination?: pino.DestinationStream): Logger {
  const base = {
    level: options.level,
    base: { service: 'nuget-proxy' },
    // A secret that is not set is shown as such (null), not as '***' that reads as "set".
    redact: { paths: REDACT_PATHS, censor: (value: unknown) => (value === null || value === undefined ? value : '***') },
    timestamp: cachedIsoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (options.format === 'pretty' && !destination) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  if (destination) return pino(base, destination);
  return pino(base, new LineBuffer(1));
}
