// A proxy with something to show on its web page, for the web tests and `npm run screenshots`: a real
// fake upstream, packages filled through the proxy's own /v3 routes (so the catalog, the traffic window
// and the fill-failure list are fed the way production feeds them), a package whose nuspec and readme
// carry script-injection payloads, enough packages to page, and one fill that fails.

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startFakeUpstream, type FakeUpstream } from './fake-upstream.ts';
import { writePackages, type PackageSpec } from './packages.ts';
import { makeTempDir, startProxy, type TestProxy } from './proxy.ts';

/** Any of these, executed, sets a property on window; a test checks none is set. */
export const XSS_TEXT = `"><script>window.__xss='text'</script><img src=x onerror="window.__xss='img'"><svg onload="window.__xss='svg'">`;

export const XSS_README = [
  `# Readme <script>window.__xss='readme-script'</script>`,
  '',
  `<img src="x" onerror="window.__xss='readme-img'">`,
  '',
  `[a javascript link](javascript:window.__xss='readme-link') and <javascript:window.__xss='autolink'>`,
  '',
  `<a href="javascript:window.__xss='raw-a'">raw anchor</a> <iframe src="https://remote-frame.invalid/"></iframe>`,
  '',
  `![remote image](https://remote-image.invalid/track.png) ![data image](data:image/png;base64,iVBORw0KGgo=)`,
  '',
  `<details open ontoggle="window.__xss='toggle'"><summary>x</summary></details>`,
  '',
  '| left | right |',
  '|:-----|------:|',
  '| a    | b     |',
].join('\n');

export const XSS_PACKAGE: PackageSpec = {
  id: 'Xss.Payload',
  version: '1.0.0',
  title: XSS_TEXT,
  description: `Description ${XSS_TEXT}`,
  summary: `Summary ${XSS_TEXT}`,
  authors: `Mallory ${XSS_TEXT}`,
  tags: `xss ${XSS_TEXT}`,
  projectUrl: `javascript:window.__xss='project-url'`,
  license: 'MIT',
  readme: XSS_README,
};

export const SHOWCASE_README = [
  '# Contoso.Http.Resilience',
  '',
  'Retries, timeouts and circuit breakers for `HttpClient`, configured in one line.',
  '',
  '## Getting started',
  '',
  '```csharp',
  'services.AddHttpClient("catalog")',
  '        .AddContosoResilience(o => o.Retries = 3);',
  '```',
  '',
  '| Option | Default | Meaning |',
  '|:-------|--------:|:--------|',
  '| `Retries` | 3 | attempts after the first |',
  '| `Timeout` | 10 s | per attempt |',
  '',
  '> Works with .NET 8 and .NET Framework 4.7.2. See [the docs](https://example.invalid/docs) for more.',
].join('\n');

/** Packages with dependencies per framework, a license expression, an icon and a readme. */
export function showcasePackages(): PackageSpec[] {
  const deps = [
    { targetFramework: 'net8.0', deps: [{ id: 'Contoso.Core', range: '[2.1.0, )' }] },
    {
      targetFramework: '.NETFramework4.7.2',
      deps: [
        { id: 'Contoso.Core', range: '[2.1.0, )' },
        { id: 'System.Net.Http.Extras', range: '[4.3.4, )' },
      ],
    },
  ];
  return [
    ...['2.0.0', '2.1.0', '2.2.0'].map((version) => ({ id: 'Contoso.Core', version, description: 'Core types for Contoso libraries.', license: 'MIT', authors: 'Contoso' })),
    ...['1.0.0', '1.1.0', '1.2.0-preview.1'].map((version) => ({
      id: 'Contoso.Http.Resilience',
      version,
      title: 'Contoso HTTP Resilience',
      description: 'Retries, timeouts and circuit breakers for HttpClient.',
      authors: 'Contoso Platform Team',
      tags: 'http resilience retry polly',
      license: 'Apache-2.0',
      projectUrl: 'https://example.invalid/contoso/http-resilience',
      icon: true,
      readme: SHOWCASE_README,
      dependencies: deps,
    })),
    { id: 'Contoso.Logging', version: '5.0.1', description: 'Structured logging sinks.', license: 'MIT' },
    { id: 'Contoso.Data.Sql', version: '3.4.0', description: 'SQL data access helpers.', license: 'MIT' },
  ];
}

/** `count` small packages named Paging.Pkg.000 … so the list has more than one page. */
export function pagingPackages(count: number): PackageSpec[] {
  return Array.from({ length: count }, (_, i) => ({ id: `Paging.Pkg.${String(i).padStart(3, '0')}`, version: '1.0.0', description: `Filler package ${i}.` }));
}

/** A package the upstream answers with HTTP 500 for: its fill fails. */
export const FAILING_PACKAGE = { id: 'Contoso.Broken', version: '1.0.0' } as const;

export interface WebFixture {
  readonly upstream: FakeUpstream;
  readonly proxy: TestProxy;
  /** Downloads a package through the proxy (a fill the first time, a hit after). */
  fill(id: string, version: string): Promise<void>;
  dispose(): Promise<void>;
}

export interface WebFixtureOptions {
  readonly env?: Record<string, string>;
  /** Extra packages the upstream serves (and the fixture fills). */
  readonly packages?: readonly PackageSpec[];
  /** Real package files to serve and fill as well (e.g. from /opt/nuget/packages). */
  readonly realPackagePaths?: readonly string[];
}

export function nupkgUrl(base: string, id: string, version: string): string {
  const lowerId = id.toLowerCase();
  const lowerVersion = version.toLowerCase().replace(/\+.*$/, '');
  return `${base}/v3/flatcontainer/${lowerId}/${lowerVersion}/${lowerId}.${lowerVersion}.nupkg`;
}

export async function startWebFixture(options: WebFixtureOptions = {}): Promise<WebFixture> {
  const dir = await makeTempDir('web-packages');
  const specs = [XSS_PACKAGE, ...showcasePackages(), ...(options.packages ?? []), { ...FAILING_PACKAGE, description: 'Upstream fails for this one.' }];
  const paths = await writePackages(join(dir, 'packages'), specs);
  const upstream = await startFakeUpstream({ packages: [...paths, ...(options.realPackagePaths ?? [])] });
  upstream.addFault({ match: new RegExp(`/${FAILING_PACKAGE.id.toLowerCase()}\\.${FAILING_PACKAGE.version}\\.nupkg$`), kind: 'status', status: 500 });
  const proxy = await startProxy({ NUGET_PROXY_UPSTREAM: upstream.serviceIndexUrl, NUGET_PROXY_UPSTREAM_RETRIES: '0', ...options.env });
  const fill = async (id: string, version: string) => {
    const res = await fetch(nupkgUrl(proxy.url, id, version));
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`filling ${id} ${version} through the proxy gave HTTP ${res.status}`);
  };
  for (const s of specs) if (s.id !== FAILING_PACKAGE.id) await fill(s.id, s.version);
  const failed = await fetch(nupkgUrl(proxy.url, FAILING_PACKAGE.id, FAILING_PACKAGE.version));
  await failed.arrayBuffer();
  if (failed.status < 500) throw new Error(`the failing package answered ${failed.status}`);
  return {
    upstream,
    proxy,
    fill,
    async dispose() {
      await proxy.dispose();
      await upstream.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
