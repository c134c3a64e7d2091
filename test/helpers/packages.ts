// Builds real, deterministic .nupkg files for tests, and holds the catalog of test packages the e2e tests share.
// Package layout follows what `nuget pack` writes (OPC parts: [Content_Types].xml, _rels/.rels, the .nuspec at
// the root, a core-properties .psmdcp); nuspec schema: docs/reference/nuspec.md.

import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { isValidPackageId, parseVersion, toLowerInvariant, toLowerVersion } from '../../src/nuget/identity.ts';
import { writeZip, type ZipEntry } from './zip-writer.ts';

export interface PackageDependencySpec {
  readonly id: string;
  /** The range exactly as written into the nuspec (`[1.0.0, 2.0.0)`, `1.0.0`, …). */
  readonly range: string;
}

export interface PackageDependencyGroupSpec {
  /** nuspec `targetFramework` (e.g. `.NETStandard2.0`); absent = a group for every framework. */
  readonly targetFramework?: string;
  readonly deps: readonly PackageDependencySpec[];
}

export interface PackageSpec {
  readonly id: string;
  /** Written verbatim into the nuspec; may carry `+metadata` or a non-normalized form (`2.0.0.0`). */
  readonly version: string;
  readonly description?: string;
  readonly title?: string;
  readonly summary?: string;
  /** nuspec `<authors>`, verbatim (comma separated). Default `Contoso`. */
  readonly authors?: string;
  /** nuspec `<tags>`, verbatim (space separated). */
  readonly tags?: string;
  readonly projectUrl?: string;
  /** SPDX license expression (`<license type="expression">`). */
  readonly license?: string;
  /** nuspec `<packageTypes>` names (e.g. `DotnetTool`); absent = a plain dependency package. */
  readonly packageTypes?: readonly string[];
  readonly dependencies?: readonly PackageDependencyGroupSpec[];
  /** Embed `icon.png` (a real 16×16 PNG) and declare it with `<icon>`. */
  readonly icon?: boolean;
  /** Embed this text as `README.md` and declare it with `<readme>`. */
  readonly readme?: string;
  /** More files, by path inside the package (e.g. `content/big.bin` to make a big package). */
  readonly extraFiles?: Readonly<Record<string, Buffer>>;
  /** Store `extraFiles` without trying to deflate them: a 40 MB incompressible payload then builds at once. */
  readonly storeExtraFiles?: boolean;
}

const NUSPEC_NAMESPACE = 'http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd';
const ICON_FILE = 'icon.png';
const README_FILE = 'README.md';
/** The empty `_._` marker makes the package compatible with every framework that supports netstandard2.0. */
const LIB_MARKER = 'lib/netstandard2.0/_._';

function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function hex(input: string, length: number): string {
  return createHash('sha256').update(input).digest('hex').slice(0, length);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData) >>> 0);
  return Buffer.concat([length, typeAndData, crc]);
}

/** A valid 16×16 RGBA PNG in a single colour (what nuget.org would accept as an embedded icon). */
export function tinyPng(rgba: readonly [number, number, number, number] = [0x51, 0x2b, 0xd4, 0xff]): Buffer {
  const size = 16;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.writeUInt8(8, 8); // bit depth
  ihdr.writeUInt8(6, 9); // colour type: truecolour with alpha
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: size }, () => rgba).flat())]);
  const raw = Buffer.concat(Array.from({ length: size }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw, { level: 9 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Deterministic, incompressible bytes (xorshift32), for packages that must really be big on the wire. */
export function pseudoRandomBytes(length: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.writeUInt32LE(x, i);
  }
  return out;
}

function buildNuspec(spec: PackageSpec): string {
  const m: string[] = [];
  const el = (name: string, value: string | undefined): void => {
    if (value !== undefined && value !== '') m.push(`    <${name}>${escapeXml(value)}</${name}>`);
  };
  el('id', spec.id);
  el('version', spec.version);
  el('title', spec.title);
  el('authors', spec.authors ?? 'Contoso');
  if (spec.license) m.push(`    <license type="expression">${escapeXml(spec.license)}</license>`);
  if (spec.icon) el('icon', ICON_FILE);
  if (spec.readme !== undefined) el('readme', README_FILE);
  el('projectUrl', spec.projectUrl);
  el('description', spec.description ?? `Test package ${spec.id}.`);
  el('summary', spec.summary);
  el('tags', spec.tags);
  if (spec.packageTypes && spec.packageTypes.length > 0) {
    m.push('    <packageTypes>');
    for (const t of spec.packageTypes) m.push(`      <packageType name="${escapeXml(t)}" />`);
    m.push('    </packageTypes>');
  }
  if (spec.dependencies && spec.dependencies.length > 0) {
    m.push('    <dependencies>');
    for (const group of spec.dependencies) {
      const tfm = group.targetFramework ? ` targetFramework="${escapeXml(group.targetFramework)}"` : '';
      if (group.deps.length === 0) {
        m.push(`      <group${tfm} />`);
        continue;
      }
      m.push(`      <group${tfm}>`);
      for (const d of group.deps) {
        // `exclude="Build,Analyzers"` is what `nuget pack`/`dotnet pack` writes for a PackageReference.
        m.push(`        <dependency id="${escapeXml(d.id)}" version="${escapeXml(d.range)}" exclude="Build,Analyzers" />`);
      }
      m.push('      </group>');
    }
    m.push('    </dependencies>');
  }
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    `<package xmlns="${NUSPEC_NAMESPACE}">`,
    '  <metadata>',
    ...m,
    '  </metadata>',
    '</package>',
    '',
  ].join('\n');
}

function buildContentTypes(partNames: readonly string[]): string {
  const defaults = new Map<string, string>([
    ['rels', 'application/vnd.openxmlformats-package.relationships+xml'],
    ['psmdcp', 'application/vnd.openxmlformats-package.core-properties+xml'],
  ]);
  const overrides: string[] = [];
  for (const part of partNames) {
    const file = part.slice(part.lastIndexOf('/') + 1);
    const dot = file.lastIndexOf('.');
    if (dot < 0 || dot === file.length - 1) {
      overrides.push(part);
      continue;
    }
    const ext = file.slice(dot + 1);
    if (![...defaults.keys()].some((k) => k.toLowerCase() === ext.toLowerCase())) defaults.set(ext, 'application/octet');
  }
  const lines = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">',
    ...[...defaults].map(([ext, type]) => `  <Default Extension="${escapeXml(ext)}" ContentType="${type}" />`),
    ...overrides.map((p) => `  <Override PartName="/${escapeXml(p)}" ContentType="application/octet" />`),
    '</Types>',
  ];
  return lines.join('\n');
}

function buildRels(nuspecName: string, psmdcpPath: string, seed: string): string {
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">',
    `  <Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/${escapeXml(nuspecName)}" Id="R${hex(`${seed}|manifest`, 16).toUpperCase()}" />`,
    `  <Relationship Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="/${psmdcpPath}" Id="R${hex(`${seed}|core`, 16).toUpperCase()}" />`,
    '</Relationships>',
  ].join('\n');
}

function buildCoreProperties(spec: PackageSpec): string {
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<coreProperties xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://schemas.openxmlformats.org/package/2006/metadata/core-properties">',
    `  <dc:creator>${escapeXml(spec.authors ?? 'Contoso')}</dc:creator>`,
    `  <dc:description>${escapeXml(spec.description ?? `Test package ${spec.id}.`)}</dc:description>`,
    `  <dc:identifier>${escapeXml(spec.id)}</dc:identifier>`,
    `  <version>${escapeXml(spec.version)}</version>`,
    `  <keywords>${escapeXml(spec.tags ?? '')}</keywords>`,
    '  <lastModifiedBy>nuget-proxy test bed</lastModifiedBy>',
    '</coreProperties>',
  ].join('\n');
}

/** The file name `writePackages` uses: `{lowerid}.{lowerversion}.nupkg` (normalized, no metadata). */
export function packageFileName(spec: Pick<PackageSpec, 'id' | 'version'>): string {
  const v = parseVersion(spec.version);
  if (!v) throw new Error(`invalid version ${spec.version} for ${spec.id}`);
  return `${toLowerInvariant(spec.id)}.${toLowerVersion(v)}.nupkg`;
}

/**
 * A real .nupkg that `dotnet restore` and nuget.exe accept. The same spec always gives the same bytes
 * (fixed zip timestamps, part names derived from the identity), so tests can compare hashes.
 */
export function buildPackage(spec: PackageSpec): Buffer {
  if (!isValidPackageId(spec.id)) throw new Error(`invalid package id: ${spec.id}`);
  if (!parseVersion(spec.version)) throw new Error(`invalid version for ${spec.id}: ${spec.version}`);
  const seed = `${spec.id}|${spec.version}`;
  const nuspecName = `${spec.id}.nuspec`;
  const psmdcpPath = `package/services/metadata/core-properties/${hex(seed, 32)}.psmdcp`;

  const content: ZipEntry[] = [{ name: LIB_MARKER, data: Buffer.alloc(0) }];
  if (spec.icon) content.push({ name: ICON_FILE, data: tinyPng(), compress: false });
  if (spec.readme !== undefined) content.push({ name: README_FILE, data: Buffer.from(spec.readme, 'utf8') });
  for (const [name, data] of Object.entries(spec.extraFiles ?? {})) {
    content.push({ name: name.replace(/^\/+/, ''), data, ...(spec.storeExtraFiles ? { compress: false } : {}) });
  }

  const parts = [nuspecName, ...content.map((e) => e.name)];
  return writeZip([
    { name: '_rels/.rels', data: Buffer.from(buildRels(nuspecName, psmdcpPath, seed), 'utf8') },
    { name: nuspecName, data: Buffer.from(buildNuspec(spec), 'utf8') },
    ...content,
    { name: '[Content_Types].xml', data: Buffer.from(buildContentTypes(parts), 'utf8') },
    { name: psmdcpPath, data: Buffer.from(buildCoreProperties(spec), 'utf8') },
  ]);
}

/** Writes each spec as `{dir}/{lowerid}.{lowerversion}.nupkg`; returns the paths in spec order. */
export async function writePackages(dir: string, specs: readonly PackageSpec[]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const paths: string[] = [];
  const seen = new Set<string>();
  for (const spec of specs) {
    const file = packageFileName(spec);
    if (seen.has(file)) throw new Error(`duplicate package identity: ${spec.id} ${spec.version}`);
    seen.add(file);
    const path = join(dir, file);
    await writeFile(path, buildPackage(spec));
    paths.push(path);
  }
  return paths;
}

function range(count: number, make: (i: number) => PackageSpec): PackageSpec[] {
  return Array.from({ length: count }, (_, i) => make(i));
}

/**
 * The test-package catalog the e2e tests share (serve it with `STANDARD_UNLISTED`, `STANDARD_VULNERABILITIES`
 * and `STANDARD_DEPRECATIONS`, or simply `startStandardFakeUpstream()`):
 *
 * | id                     | versions                                              | why                                                        |
 * |------------------------|-------------------------------------------------------|------------------------------------------------------------|
 * | Contoso.MixedCase.Lib  | 1.0.0, 1.1.0, 2.0.0                                   | mixed-case id; dependency target; MIT license; tags         |
 * | Contoso.FourPart       | 1.2.3.4, 2.0.0.0 (→ 2.0.0)                             | 4-part version; zero 4th part is dropped by normalization   |
 * | Contoso.Prerelease     | 0.9.0, 1.0.0-beta, 1.0.0-Beta.2, 1.0.0-rc.2, 1.0.0-rc.10 | label case, numeric label order (rc.2 < rc.10); the dotted ones are SemVer2 |
 * | Contoso.BuildMetadata  | 2.0.0, 3.0.0+build.7                                  | build metadata (SemVer2; URL token 3.0.0, JSON 3.0.0+build.7) |
 * | Contoso.Dependent      | 1.0.0                                                 | depends on Contoso.MixedCase.Lib `[1.0.0, 2.0.0)` (.NETStandard2.0) |
 * | Contoso.SemVer2Dep     | 1.0.0                                                 | SemVer1 version, but SemVer2 by its range `[1.0.0-rc.2, )` on Contoso.Prerelease |
 * | Contoso.Paged          | 1.0.0 … 1.0.139 (140)                                 | ≥ 128 versions: 3 separate registration pages (64, 64, 12)  |
 * | Contoso.TwoPages       | 1.0.0 … 1.0.69 (70)                                   | 65–127 versions: 2 inlined pages (64, 6)                    |
 * | Contoso.Vulnerable     | 1.0.0, 2.0.0                                          | vulnerable `(, 2.0.0)`, severity 2 (STANDARD_VULNERABILITIES) |
 * | Contoso.IconReadme     | 1.0.0                                                 | embedded icon.png and README.md                             |
 * | Contoso.Unlisted       | 1.0.0, 1.1.0, 2.0.0                                   | 1.1.0 is unlisted (STANDARD_UNLISTED)                       |
 * | Contoso.AllUnlisted    | 1.0.0                                                 | every version unlisted: in the flat index, never in search  |
 * | Contoso.Deprecated     | 1.0.0                                                 | deprecated (Legacy) in the SemVer2 hive (STANDARD_DEPRECATIONS) |
 * | Contoso.Tool           | 1.0.0                                                 | packageType DotnetTool (search `packageType=` filter)       |
 */
export function standardTestPackages(): PackageSpec[] {
  return [
    ...['1.0.0', '1.1.0', '2.0.0'].map((version) => ({
      id: 'Contoso.MixedCase.Lib',
      version,
      title: 'Contoso Mixed Case Library',
      description: 'A library whose id has mixed case.',
      tags: 'contoso mixedcase library',
      license: 'MIT',
      projectUrl: 'https://example.invalid/contoso/mixedcase',
    })),
    { id: 'Contoso.FourPart', version: '1.2.3.4', description: 'A four-part version.' },
    { id: 'Contoso.FourPart', version: '2.0.0.0', description: 'A four-part version whose fourth part is zero.' },
    ...['0.9.0', '1.0.0-beta', '1.0.0-Beta.2', '1.0.0-rc.2', '1.0.0-rc.10'].map((version) => ({
      id: 'Contoso.Prerelease',
      version,
      description: 'Prerelease versions with label case and numeric label ordering.',
      tags: 'prerelease',
    })),
    { id: 'Contoso.BuildMetadata', version: '2.0.0', description: 'Build metadata package.' },
    { id: 'Contoso.BuildMetadata', version: '3.0.0+build.7', description: 'Build metadata package.' },
    {
      id: 'Contoso.Dependent',
      version: '1.0.0',
      description: 'Depends on Contoso.MixedCase.Lib.',
      dependencies: [{ targetFramework: '.NETStandard2.0', deps: [{ id: 'Contoso.MixedCase.Lib', range: '[1.0.0, 2.0.0)' }] }],
    },
    {
      id: 'Contoso.SemVer2Dep',
      version: '1.0.0',
      description: 'SemVer2 only because of its dependency range.',
      dependencies: [{ targetFramework: '.NETStandard2.0', deps: [{ id: 'Contoso.Prerelease', range: '[1.0.0-rc.2, )' }] }],
    },
    ...range(140, (i) => ({ id: 'Contoso.Paged', version: `1.0.${i}`, description: 'A package with 140 versions.' })),
    ...range(70, (i) => ({ id: 'Contoso.TwoPages', version: `1.0.${i}`, description: 'A package with 70 versions.' })),
    { id: 'Contoso.Vulnerable', version: '1.0.0', description: 'Has a known vulnerability.' },
    { id: 'Contoso.Vulnerable', version: '2.0.0', description: 'Has a known vulnerability before 2.0.0.' },
    {
      id: 'Contoso.IconReadme',
      version: '1.0.0',
      title: 'Icon and readme',
      description: 'Embeds an icon and a readme.',
      icon: true,
      readme: '# Contoso.IconReadme\n\nA test package with an embedded README.\n',
    },
    ...['1.0.0', '1.1.0', '2.0.0'].map((version) => ({ id: 'Contoso.Unlisted', version, description: 'One version is unlisted.' })),
    { id: 'Contoso.AllUnlisted', version: '1.0.0', description: 'Every version is unlisted.' },
    { id: 'Contoso.Deprecated', version: '1.0.0', description: 'A deprecated package.' },
    { id: 'Contoso.Tool', version: '1.0.0', description: 'A .NET tool.', packageTypes: ['DotnetTool'] },
  ];
}

/** Versions of the standard catalog that the fake upstream serves as unlisted. */
export const STANDARD_UNLISTED: ReadonlyArray<{ readonly id: string; readonly version: string }> = [
  { id: 'Contoso.Unlisted', version: '1.1.0' },
  { id: 'Contoso.AllUnlisted', version: '1.0.0' },
];

/** Vulnerability data (keyed by lower id) for the standard catalog, in the VulnerabilityInfo page format. */
export const STANDARD_VULNERABILITIES: Readonly<Record<string, ReadonlyArray<{ url: string; severity: number; versions: string }>>> = {
  'contoso.vulnerable': [{ url: 'https://github.com/advisories/GHSA-test-0000-0001', severity: 2, versions: '(, 2.0.0)' }],
};

/** Deprecations for the standard catalog (shown only in the SemVer2 registration hive and in search). */
export const STANDARD_DEPRECATIONS: ReadonlyArray<{
  readonly id: string;
  readonly version: string;
  readonly reasons: readonly string[];
  readonly message?: string;
  readonly alternatePackage?: { readonly id: string; readonly range?: string };
}> = [
  {
    id: 'Contoso.Deprecated',
    version: '1.0.0',
    reasons: ['Legacy'],
    message: 'Use Contoso.MixedCase.Lib instead.',
    alternatePackage: { id: 'Contoso.MixedCase.Lib', range: '*' },
  },
];
