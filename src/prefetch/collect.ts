// Reads prefetch's inputs from disk: files by kind, directories recursively (by file name), and the
// Directory.Packages.props that applies to each project (MSBuild looks for it upwards from the project).

import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import {
  InputError,
  detectInputKind,
  inputKindOfName,
  msbuildRequests,
  parseAssetsFile,
  parseLockFile,
  parseMsbuild,
  parsePackageList,
  parsePackagesConfig,
  requestKey,
  type InputKind,
  type MsbuildDocument,
  type PackageRequest,
  type ParsedInput,
} from './inputs.ts';

/** Folders a scan never enters: version control, dependency trees of other ecosystems, IDE state. */
const SKIPPED_DIRS = new Set(['.git', '.hg', '.svn', 'node_modules', '.vs', '.idea']);
const CENTRAL_PROPS = 'Directory.Packages.props';

export interface CollectedInputs {
  /** De-duplicated requests, in the order first seen. */
  readonly requests: readonly PackageRequest[];
  readonly problems: readonly string[];
  /** Files read, by kind. */
  readonly files: ReadonlyArray<{ readonly path: string; readonly kind: InputKind }>;
}

async function findFiles(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    // Symbolic links are not followed: a link back up the tree would never end.
    if (e.isDirectory() && !SKIPPED_DIRS.has(e.name)) await findFiles(join(dir, e.name), out);
    else if (e.isFile() && inputKindOfName(e.name)) out.push(join(dir, e.name));
  }
}

class CentralProps {
  private readonly parsed = new Map<string, Promise<MsbuildDocument | null>>();

  /** The nearest Directory.Packages.props at or above `dir`, parsed; null when there is none. */
  async forDirectory(dir: string): Promise<MsbuildDocument | null> {
    for (let d = dir; ; d = dirname(d)) {
      const candidate = join(d, CENTRAL_PROPS);
      if (await stat(candidate).then((s) => s.isFile(), () => false)) return this.load(candidate);
      if (dirname(d) === d) return null;
    }
  }

  load(path: string): Promise<MsbuildDocument | null> {
    let p = this.parsed.get(path);
    if (!p) {
      p = readFile(path, 'utf8').then(
        (text) => parseMsbuild(text, path),
        () => null,
      );
      this.parsed.set(path, p);
    }
    return p;
  }
}

async function readOne(path: string, kind: InputKind, central: CentralProps): Promise<ParsedInput> {
  const text = await readFile(path, 'utf8');
  switch (kind) {
    case 'lock':
      return parseLockFile(text, path);
    case 'assets':
      return parseAssetsFile(text, path);
    case 'packages-config':
      return parsePackagesConfig(text, path);
    case 'list':
      return parsePackageList(text, path);
    case 'msbuild': {
      const doc = parseMsbuild(text, path);
      const isCentral = basename(path).toLowerCase() === CENTRAL_PROPS.toLowerCase();
      return msbuildRequests(doc, path, isCentral ? null : await central.forDirectory(dirname(path)));
    }
  }
}

/** Turns command-line inputs (files and directories) into de-duplicated package requests. */
export async function collectInputs(inputs: readonly string[], cwd = process.cwd()): Promise<CollectedInputs> {
  const problems: string[] = [];
  const files: Array<{ path: string; kind: InputKind }> = [];
  const central = new CentralProps();
  for (const input of inputs) {
    const path = resolve(cwd, input);
    const s = await stat(path).catch(() => null);
    if (!s) {
      problems.push(`${input}: no such file or directory`);
    } else if (s.isDirectory()) {
      const found: string[] = [];
      await findFiles(path, found);
      if (found.length === 0) problems.push(`${input}: no lock file, assets file, project, props or packages.config found in this directory`);
      for (const f of found) files.push({ path: f, kind: inputKindOfName(basename(f)) ?? 'list' });
    } else {
      const text = await readFile(path, 'utf8').catch(() => '');
      files.push({ path, kind: detectInputKind(basename(path), text) });
    }
  }
  const requests = new Map<string, PackageRequest>();
  for (const f of files) {
    try {
      const parsed = await readOne(f.path, f.kind, central);
      problems.push(...parsed.problems);
      for (const r of parsed.requests) if (!requests.has(requestKey(r))) requests.set(requestKey(r), r);
    } catch (err) {
      problems.push(err instanceof InputError ? err.message : `${f.path}: ${(err as Error).message}`);
    }
  }
  return { requests: [...requests.values()], problems, files };
}
