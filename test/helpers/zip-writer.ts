// Writes a zip archive synchronously and deterministically: fixed timestamps, no extra fields, entries in
// the order given. a stream-based zip library would finish asynchronously; test
// packages are built by a synchronous `buildPackage`, so this small writer covers the subset of PKWARE's
// APPNOTE a .nupkg needs (stored/deflated entries, no zip64, no data descriptors).

import { crc32, deflateRawSync } from 'node:zlib';

export interface ZipEntry {
  /** Entry name with '/' separators, no leading slash. */
  readonly name: string;
  readonly data: Buffer;
  /** Deflate the entry (default true); it is stored instead when deflating would not make it smaller. */
  readonly compress?: boolean;
}

const LOCAL_HEADER_SIGNATURE = 0x04034b50;
const CENTRAL_HEADER_SIGNATURE = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06054b50;
const VERSION_NEEDED = 20; // 2.0: deflate
const FLAG_UTF8_NAME = 0x0800;
const METHOD_STORE = 0;
const METHOD_DEFLATE = 8;
const MAX_UINT32 = 0xffffffff;

/** MS-DOS date/time fields of a UTC date (two-second resolution). */
function toDosDateTime(date: Date): { date: number; time: number } {
  const year = Math.max(1980, date.getUTCFullYear());
  return {
    date: ((year - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate(),
    time: (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | Math.floor(date.getUTCSeconds() / 2),
  };
}

/** Zip timestamp written into every test package, so the same spec always yields the same bytes. */
export const FIXED_ZIP_TIME = new Date(Date.UTC(2024, 0, 1, 0, 0, 0));

export function writeZip(entries: readonly ZipEntry[], mtime: Date = FIXED_ZIP_TIME): Buffer {
  if (entries.length > 0xffff) throw new Error('zip-writer: too many entries (zip64 is not supported)');
  const dos = toDosDateTime(mtime);
  const chunks: Buffer[] = [];
  const central: Buffer[] = [];
  const seen = new Set<string>();
  let offset = 0;

  for (const entry of entries) {
    if (seen.has(entry.name)) throw new Error(`zip-writer: duplicate entry ${entry.name}`);
    seen.add(entry.name);
    const name = Buffer.from(entry.name, 'utf8');
    // Bit 11 says the name is UTF-8; only set it when needed, as `nuget pack` does for ASCII names.
    const flags = /^[\x20-\x7e]*$/.test(entry.name) ? 0 : FLAG_UTF8_NAME;
    const deflated = entry.compress === false || entry.data.length === 0 ? null : deflateRawSync(entry.data, { level: 9 });
    const useDeflate = deflated !== null && deflated.length < entry.data.length;
    const payload = useDeflate && deflated ? deflated : entry.data;
    const method = useDeflate ? METHOD_DEFLATE : METHOD_STORE;
    const crc = crc32(entry.data) >>> 0;
    if (payload.length > MAX_UINT32 || offset > MAX_UINT32) throw new Error('zip-writer: archive too large (zip64 is not supported)');

    const local = Buffer.alloc(30);
    local.writeUInt32LE(LOCAL_HEADER_SIGNATURE, 0);
    local.writeUInt16LE(VERSION_NEEDED, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(dos.time, 10);
    local.writeUInt16LE(dos.date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(payload.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28); // extra field length

    const header = Buffer.alloc(46);
    header.writeUInt32LE(CENTRAL_HEADER_SIGNATURE, 0);
    header.writeUInt16LE(VERSION_NEEDED, 4); // version made by: MS-DOS, 2.0
    header.writeUInt16LE(VERSION_NEEDED, 6);
    header.writeUInt16LE(flags, 8);
    header.writeUInt16LE(method, 10);
    header.writeUInt16LE(dos.time, 12);
    header.writeUInt16LE(dos.date, 14);
    header.writeUInt32LE(crc, 16);
    header.writeUInt32LE(payload.length, 20);
    header.writeUInt32LE(entry.data.length, 24);
    header.writeUInt16LE(name.length, 28);
    // extra length, comment length, disk number, internal and external attributes stay 0
    header.writeUInt32LE(offset, 42);

    chunks.push(local, name, payload);
    central.push(header, name);
    offset += local.length + name.length + payload.length;
  }

  const centralSize = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY_SIGNATURE, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...chunks, ...central, end]);
}
