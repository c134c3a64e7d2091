// A small, strict POSIX tar (ustar + pax `path`/`size` records) writer and streaming reader for bundles.
// Bundles only ever hold regular files, so the reader refuses every other entry type (links, devices,
// directories) instead of interpreting it. Format: POSIX.1-2001 pax (IEEE Std 1003.1, "pax - portable
// archive interchange"), ustar header layout.

const BLOCK = 512;
const MAX_OCTAL_SIZE = 0o77777777777; // 11 octal digits
const MAX_PAX_BYTES = 1024 * 1024;

export class TarError extends Error {
  constructor(
    readonly code: 'TRUNCATED' | 'CORRUPT' | 'UNSUPPORTED',
    message: string,
  ) {
    super(message);
  }
}

/** Where the writer puts bytes; `write` resolves when the sink can take more (backpressure). */
export interface ByteSink {
  write(chunk: Buffer): Promise<void>;
}

function writeString(buf: Buffer, offset: number, length: number, value: string): void {
  buf.write(value, offset, length, 'utf8');
}

function writeOctal(buf: Buffer, offset: number, length: number, value: number): void {
  writeString(buf, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

function checksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0);
  return sum;
}

function isAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

/** Splits a path into ustar prefix/name, or null when it needs a pax `path` record. */
function splitUstarName(path: string): { prefix: string; name: string } | null {
  if (!isAscii(path)) return null;
  if (path.length <= 100) return { prefix: '', name: path };
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (prefix.length <= 155 && name.length <= 100 && name.length > 0) return { prefix, name };
  }
  return null;
}

function header(name: string, prefix: string, size: number, mtimeSeconds: number, type: '0' | 'x'): Buffer {
  const h = Buffer.alloc(BLOCK);
  writeString(h, 0, 100, name);
  writeOctal(h, 100, 8, 0o644);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, Math.max(0, Math.floor(mtimeSeconds)));
  writeString(h, 156, 1, type);
  writeString(h, 257, 6, 'ustar\0');
  writeString(h, 263, 2, '00');
  writeString(h, 345, 155, prefix);
  writeString(h, 148, 8, `${checksum(h).toString(8).padStart(6, '0')}\0 `);
  return h;
}

/** One pax record: `<length> <key>=<value>\n`, where length counts the whole record. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyBytes = Buffer.byteLength(body);
  let length = bodyBytes + 1;
  while (String(length).length + bodyBytes !== length) length = String(length).length + bodyBytes;
  return `${length}${body}`;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

export class TarWriter {
  private bytesWritten = 0;

  constructor(private readonly sink: ByteSink) {}

  /** Bytes of archive produced so far. */
  get bytes(): number {
    return this.bytesWritten;
  }

  private async put(chunk: Buffer): Promise<void> {
    if (chunk.length === 0) return;
    this.bytesWritten += chunk.length;
    await this.sink.write(chunk);
  }

  /** Adds a regular file of exactly `size` bytes read from `body`; throws if `body` yields another amount. */
  async addFile(path: string, size: number, mtimeMs: number, body: AsyncIterable<Buffer>): Promise<void> {
    const split = splitUstarName(path);
    const records = (split ? '' : paxRecord('path', path)) + (size > MAX_OCTAL_SIZE ? paxRecord('size', String(size)) : '');
    if (records !== '') {
      const pax = Buffer.from(records, 'utf8');
      await this.put(header(`PaxHeader/${String(this.bytesWritten)}`, '', pax.length, mtimeMs / 1000, 'x'));
      await this.put(pax);
      await this.put(padding(pax.length));
    }
    const ustarName = split ?? { prefix: '', name: `pax-path-${String(this.bytesWritten)}` };
    await this.put(header(ustarName.name, ustarName.prefix, size > MAX_OCTAL_SIZE ? 0 : size, mtimeMs / 1000, '0'));
    let seen = 0;
    for await (const chunk of body) {
      seen += chunk.length;
      if (seen > size) throw new Error(`${path} grew while it was being written into the bundle`);
      await this.put(chunk);
    }
    if (seen !== size) throw new Error(`${path} shrank while it was being written into the bundle (${seen} of ${size} bytes)`);
    await this.put(padding(size));
  }

  async addBuffer(path: string, data: Buffer, mtimeMs = Date.now()): Promise<void> {
    await this.addFile(path, data.length, mtimeMs, (async function* () {
      yield data;
    })());
  }

  /** The end-of-archive marker: two zero blocks. */
  async finish(): Promise<void> {
    await this.put(Buffer.alloc(2 * BLOCK));
  }
}

export interface TarEntry {
  readonly path: string;
  readonly size: number;
}

/** Pulls exact byte counts out of a chunked source. */
class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  private async more(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.source.next();
    if (r.done) {
      this.ended = true;
      return false;
    }
    const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value);
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    return true;
  }

  /** Exactly n bytes; null when the source ended before the first byte; throws when it ends midway. */
  async exact(n: number): Promise<Buffer | null> {
    while (this.buffered < n) {
      if (!(await this.more())) {
        if (this.buffered === 0) return null;
        throw new TarError('TRUNCATED', 'the bundle ends in the middle of an entry (truncated)');
      }
    }
    return this.take(n);
  }

  /** Up to n bytes (at least one); throws when the source has ended. */
  async some(n: number): Promise<Buffer> {
    while (this.buffered === 0) {
      if (!(await this.more())) throw new TarError('TRUNCATED', 'the bundle ends in the middle of an entry (truncated)');
    }
    return this.take(Math.min(n, this.chunks[0]?.length ?? 0));
  }

  /** Reads and discards whatever the source still holds. */
  async drain(): Promise<void> {
    this.chunks = [];
    this.buffered = 0;
    while (await this.more()) {
      this.chunks = [];
      this.buffered = 0;
    }
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = Buffer.alloc(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0] as Buffer;
      const k = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, k);
      filled += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}

function readString(h: Buffer, offset: number, length: number): string {
  const raw = h.subarray(offset, offset + length);
  const nul = raw.indexOf(0);
  return (nul >= 0 ? raw.subarray(0, nul) : raw).toString('utf8');
}

function readOctal(h: Buffer, offset: number, length: number, what: string): number {
  const text = readString(h, offset, length).trim();
  if (!/^[0-7]*$/.test(text)) throw new TarError('CORRUPT', `tar header has an invalid ${what} field`);
  return text === '' ? 0 : parseInt(text, 8);
}

function parsePax(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) throw new TarError('CORRUPT', 'malformed pax header');
    const length = Number(data.subarray(pos, space).toString('ascii'));
    if (!Number.isInteger(length) || length <= space - pos || pos + length > data.length) throw new TarError('CORRUPT', 'malformed pax header');
    const record = data.subarray(space + 1, pos + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq <= 0) throw new TarError('CORRUPT', 'malformed pax record');
    out.set(record.slice(0, eq), record.slice(eq + 1));
    pos += length;
  }
  return out;
}

/**
 * Reads a tar stream entry by entry. After next() returns an entry, body() must be read to its end
 * before calling next() again.
 */
export class TarReader {
  private readonly bytes: ByteReader;
  /** Body bytes of the current entry not yet read, then the zero padding after them. */
  private pendingBody = 0;
  private padAfter = 0;

  constructor(source: AsyncIterable<Buffer>) {
    this.bytes = new ByteReader(source[Symbol.asyncIterator]());
  }

  /** The next regular-file entry, or null at the end-of-archive marker. */
  async next(): Promise<TarEntry | null> {
    if (this.pendingBody > 0 || this.padAfter > 0) throw new Error('the previous entry body was not read');
    let pax: Map<string, string> | null = null;
    for (;;) {
      const h = await this.bytes.exact(BLOCK);
      if (!h) throw new TarError('TRUNCATED', 'the bundle ends without the end-of-archive marker (truncated)');
      if (h.every((b) => b === 0)) {
        // The end-of-archive marker is two zero blocks: one alone means the bundle was cut short.
        const second = await this.bytes.exact(BLOCK);
        if (!second) throw new TarError('TRUNCATED', 'the bundle ends inside the end-of-archive marker (truncated)');
        if (!second.every((b) => b === 0)) throw new TarError('CORRUPT', 'a zero block in the middle of the bundle (corrupted)');
        return null;
      }
      if (readOctal(h, 148, 8, 'checksum') !== checksum(h)) throw new TarError('CORRUPT', 'a tar header checksum does not match (corrupted bundle)');
      if (readString(h, 257, 6).slice(0, 5) !== 'ustar') throw new TarError('UNSUPPORTED', 'not a ustar/pax tar archive');
      const type = String.fromCharCode(h[156] ?? 0);
      let size = readOctal(h, 124, 12, 'size');
      if (type === 'x') {
        if (size > MAX_PAX_BYTES) throw new TarError('CORRUPT', 'pax header too large');
        const data = await this.bytes.exact(size + padding(size).length);
        if (!data) throw new TarError('TRUNCATED', 'the bundle ends inside a pax header (truncated)');
        pax = parsePax(data.subarray(0, size));
        continue;
      }
      if (type !== '0' && type !== '\0') {
        throw new TarError('UNSUPPORTED', `entry '${readString(h, 0, 100)}' is not a regular file (type '${type}'): bundles hold only files`);
      }
      const prefix = readString(h, 345, 155);
      const name = readString(h, 0, 100);
      const path = pax?.get('path') ?? (prefix ? `${prefix}/${name}` : name);
      const paxSize = pax?.get('size');
      if (paxSize !== undefined) {
        if (!/^[0-9]+$/.test(paxSize)) throw new TarError('CORRUPT', 'invalid pax size');
        size = Number(paxSize);
      }
      this.pendingBody = size;
      this.padAfter = padding(size).length;
      return { path, size };
    }
  }

  /**
   * Consumes the rest of the source after the end-of-archive marker (tar writers pad to a record size),
   * so a stream feeding the reader — a gunzip — runs to its end and reports damage there too.
   */
  async drain(): Promise<void> {
    await this.bytes.drain();
  }

  /** The current entry's bytes, in chunks of at most `chunkBytes`. */
  async *body(chunkBytes = 1024 * 1024): AsyncGenerator<Buffer> {
    while (this.pendingBody > 0) {
      const chunk = await this.bytes.some(Math.min(chunkBytes, this.pendingBody));
      this.pendingBody -= chunk.length;
      yield chunk;
    }
    if (this.padAfter > 0) {
      if (!(await this.bytes.exact(this.padAfter))) throw new TarError('TRUNCATED', 'the bundle ends after an entry (truncated)');
      this.padAfter = 0;
    }
  }
}
