// Runs the REAL NuGet clients against a feed: `dotnet` (SDK on PATH) and nuget.exe 5.8 under Mono.
// Every run gets fresh client state (HOME, NUGET_PACKAGES, http cache) and a nuget.config that <clear/>s
// every other source, so nothing but the feed under test can answer.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { makeTempDir } from './proxy.ts';

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

/** Runs a command with a hard time limit; never throws for a non-zero exit. */
export function run(cmd: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, durationMs: performance.now() - started });
    });
  });
}

const ROOT = new URL('../..', import.meta.url).pathname;

/** `nuget-proxy <args>` from the sources (as `npm run dev` runs it), with only `env` and PATH set. */
export function runCli(args: readonly string[], env: Record<string, string> = {}, timeoutMs = 300_000): Promise<RunResult> {
  return run(process.execPath, ['--import', 'tsx', 'src/cli/nuget-proxy.ts', ...args], { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', ...env }, timeoutMs });
}

export interface FeedSource {
  readonly url: string;
  /** https with a self-signed certificate: the source gets disableTLSCertificateValidation. */
  readonly https?: boolean;
}

export function nugetConfigXml(source: FeedSource, extra = ''): string {
  const attrs = source.https ? 'disableTLSCertificateValidation="true"' : 'allowInsecureConnections="true"';
  return `<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="proxy" value="${source.url}" protocolVersion="3" ${attrs} />
  </packageSources>
  ${extra}
</configuration>
`;
}

export interface ProjectSpec {
  readonly packages: ReadonlyArray<{ readonly id: string; readonly version: string }>;
  readonly properties?: Readonly<Record<string, string>>;
  /** Project SDK; default `Microsoft.NET.Sdk` (`Microsoft.NET.Sdk.Web` for an ASP.NET Core app: its framework ships with the SDK). */
  readonly sdk?: string;
}

/** A net10.0 console project (the framework packs for net10.0 ship with the SDK, so it restores offline). */
export async function makeProject(dir: string, spec: ProjectSpec, source: FeedSource): Promise<string> {
  await mkdir(dir, { recursive: true });
  const props = Object.entries(spec.properties ?? {})
    .map(([k, v]) => `    <${k}>${v}</${k}>`)
    .join('\n');
  const refs = spec.packages.map((p) => `    <PackageReference Include="${p.id}" Version="${p.version}" />`).join('\n');
  await writeFile(
    join(dir, 'app.csproj'),
    `<Project Sdk="${spec.sdk ?? 'Microsoft.NET.Sdk'}">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
${props}
  </PropertyGroup>
  <ItemGroup>
${refs}
  </ItemGroup>
</Project>
`,
  );
  await writeFile(join(dir, 'Program.cs'), 'System.Console.WriteLine("hello");\n');
  await writeFile(join(dir, 'nuget.config'), nugetConfigXml(source));
  return dir;
}

export interface ClientState {
  readonly home: string;
  readonly packages: string;
  readonly env: NodeJS.ProcessEnv;
}

/** Fresh HOME, global-packages folder and http cache: the client can only learn from the feed. */
export async function freshClientState(): Promise<ClientState> {
  const root = await makeTempDir('client');
  const home = join(root, 'home');
  const packages = join(root, 'packages');
  await mkdir(home, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: home,
    DOTNET_CLI_HOME: home,
    NUGET_PACKAGES: packages,
    NUGET_HTTP_CACHE_PATH: join(root, 'http-cache'),
    NUGET_PLUGINS_CACHE_PATH: join(root, 'plugins-cache'),
    DOTNET_NOLOGO: '1',
    DOTNET_SKIP_FIRST_TIME_EXPERIENCE: '1',
    DOTNET_CLI_TELEMETRY_OPTOUT: '1',
    DOTNET_CLI_USE_MSBUILD_SERVER: '0',
    MSBUILDDISABLENODEREUSE: '1',
    DOTNET_GENERATE_ASPNET_CERTIFICATE: 'false',
    NUGET_CERT_REVOCATION_MODE: 'offline',
    TMPDIR: root,
  };
  return { home, packages, env };
}

/** `dotnet <args>` in `cwd` with the given client state. */
export function dotnet(args: readonly string[], cwd: string, state: ClientState, timeoutMs = 240_000): Promise<RunResult> {
  return run('dotnet', args, { cwd, env: state.env, timeoutMs });
}

async function sha512File(path: string): Promise<string> {
  const h = createHash('sha512');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Every .nupkg in a global-packages folder: `lowerid/version` → SHA-512 hex of the file. */
export async function restoredPackageHashes(globalPackages: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!existsSync(globalPackages)) return out;
  for (const id of await readdir(globalPackages)) {
    for (const version of await readdir(join(globalPackages, id)).catch(() => [] as string[])) {
      const file = join(globalPackages, id, version, `${id}.${version}.nupkg`);
      if (existsSync(file)) out.set(`${id}/${version}`, await sha512File(file));
    }
  }
  return out;
}

export { sha512File };

const require = createRequire(import.meta.url);

/** Path of nuget.exe 5.8 from the nuget-exe npm package. */
export function nugetExePath(): string {
  return join(dirname(require.resolve('nuget-exe/package.json')), 'nuget-5.8.0.exe');
}

/** `mono nuget.exe <args>` with fresh state per call (HOME holds nuget.exe's caches). */
export function nugetExe(args: readonly string[], cwd: string, state: ClientState, timeoutMs = 180_000): Promise<RunResult> {
  return run('mono', [nugetExePath(), ...args, '-NonInteractive'], { cwd, env: { ...state.env, MONO_ENV_OPTIONS: '' }, timeoutMs });
}
