// Parses a .nuspec document into the metadata the proxy needs (identity, dependencies, display fields).
// Schema: docs/reference/nuspec.md (nuspec.xsd); dependency groups: "Dependency groups" section.

import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { isValidPackageId, parseVersion, toFullString, type NuGetVersion } from './identity.ts';

export interface NuspecDependency {
  readonly id: string;
  /** The range exactly as written; '' when the nuspec gives none (means every version). */
  readonly range: string;
}

export interface NuspecDependencyGroup {
  /** The target framework as written; '' when the group applies to every framework. */
  readonly targetFramework: string;
  readonly dependencies: readonly NuspecDependency[];
}

export interface Nuspec {
  readonly id: string;
  readonly version: NuGetVersion;
  /** The version as the full string (normalized + metadata), as registration `catalogEntry.version` has it. */
  readonly fullVersion: string;
  readonly title: string;
  readonly description: string;
  readonly summary: string;
  readonly authors: string;
  readonly owners: string;
  readonly tags: string;
  readonly projectUrl: string;
  readonly licenseUrl: string;
  readonly licenseExpression: string;
  /** Path of the license file inside the package (`<license type="file">`; '' when none). */
  readonly licenseFile: string;
  readonly iconUrl: string;
  /** Path of the embedded icon file inside the package ('' when none). */
  readonly iconFile: string;
  /** Path of the embedded readme file inside the package ('' when none). */
  readonly readmeFile: string;
  readonly language: string;
  readonly minClientVersion: string;
  readonly requireLicenseAcceptance: boolean;
  readonly dependencyGroups: readonly NuspecDependencyGroup[];
  readonly packageTypes: readonly string[];
}

export class NuspecError extends Error {}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  isArray: (name) => ['group', 'dependency', 'packageType'].includes(name),
});

type Node = Record<string, unknown>;

function asNode(value: unknown): Node | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Node) : undefined;
}

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const node = asNode(value);
  if (node && typeof node['#text'] === 'string') return node['#text'];
  return '';
}

function nodes(value: unknown): Node[] {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.map((v) => asNode(v) ?? {});
}

function readDependencies(list: unknown): NuspecDependency[] {
  const out: NuspecDependency[] = [];
  for (const d of nodes(list)) {
    const id = text(d['@id']).trim();
    if (id) out.push({ id, range: text(d['@version']).trim() });
  }
  return out;
}

/** Parses nuspec XML. Throws NuspecError when it is not a nuspec with a valid id and version. */
export function parseNuspec(xml: string): Nuspec {
  let doc: Node;
  // fast-xml-parser is lenient about structure; NuGet's XML reader is not.
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new NuspecError(`nuspec is not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`);
  try {
    doc = parser.parse(xml) as Node;
  } catch (err) {
    throw new NuspecError(`nuspec is not well-formed XML: ${(err as Error).message}`);
  }
  const metadata = asNode(asNode(doc['package'])?.['metadata']);
  if (!metadata) throw new NuspecError('nuspec has no <package><metadata> element');
  const id = text(metadata['id']).trim();
  const version = parseVersion(text(metadata['version']));
  if (!id) throw new NuspecError('nuspec has no <id>');
  if (!isValidPackageId(id)) throw new NuspecError(`nuspec has an invalid <id>: ${id.slice(0, 120)}`);
  if (!version) throw new NuspecError(`nuspec has an invalid <version>: ${text(metadata['version'])}`);

  const groups: NuspecDependencyGroup[] = [];
  const deps = asNode(metadata['dependencies']);
  if (deps) {
    for (const g of nodes(deps['group'])) {
      groups.push({ targetFramework: text(g['@targetFramework']).trim(), dependencies: readDependencies(g['dependency']) });
    }
    const flat = readDependencies(deps['dependency']);
    if (flat.length > 0) groups.push({ targetFramework: '', dependencies: flat });
  }
  const license = asNode(metadata['license']);
  const packageTypes = nodes(asNode(metadata['packageTypes'])?.['packageType'])
    .map((p) => text(p['@name']).trim())
    .filter((n) => n.length > 0);

  return {
    id,
    version,
    fullVersion: toFullString(version),
    title: text(metadata['title']),
    description: text(metadata['description']),
    summary: text(metadata['summary']),
    authors: text(metadata['authors']),
    owners: text(metadata['owners']),
    tags: text(metadata['tags']),
    projectUrl: text(metadata['projectUrl']),
    licenseUrl: text(metadata['licenseUrl']),
    licenseExpression: license && text(license['@type']) === 'expression' ? text(license) : '',
    licenseFile: license && text(license['@type']) === 'file' ? text(license) : '',
    iconUrl: text(metadata['iconUrl']),
    iconFile: text(metadata['icon']),
    readmeFile: text(metadata['readme']),
    language: text(metadata['language']),
    minClientVersion: text(metadata['@minClientVersion']),
    requireLicenseAcceptance: text(metadata['requireLicenseAcceptance']).toLowerCase() === 'true',
    dependencyGroups: groups,
    packageTypes,
  };
}
