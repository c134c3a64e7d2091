// The configuration file (--config / NUGET_PROXY_CONFIG): several upstreams, ${VAR} from the environment,
// settings merged with flags and environment under one "every problem at once" validation, a nuget.config
// as the source of upstreams, mapping and credentials, and the policy section. Files live in a temp dir.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, parseConfig, redactConfig } from '../../src/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'nuget-proxy-config-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const share = join(dir, 'share');
mkdirSync(join(share, 'nested'), { recursive: true });

let n = 0;
function file(text: string, name = `config-${++n}.yaml`): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

const ISSUE_EXAMPLE = `
upstreams:
  - name: internal
    url: https://pkgs.corp.example/nuget/v3/index.json
    username: build
    password: \${INTERNAL_FEED_TOKEN}
  - name: share
    folder: ./share
  - name: public
    url: https://feed.example/v3/index.json
packageSourceMapping:
  internal: ["Contoso.*"]
  share: ["Local.*"]
  public: ["*"]
policy:
  minReleaseAge: 7d
  minReleaseAgeExempt: ["Contoso.*"]
  youngPinned: refuse
  vulnerabilities: { minSeverity: high, action: refuse }
  deny: ["Evil.*", "Some.Package [1.0.0,1.2.0)"]
`;

describe('the issue example file', () => {
  const path = file(ISSUE_EXAMPLE);
  const { config } = parseConfig('serve', ['--config', path], { INTERNAL_FEED_TOKEN: 's3cret' }, dir);

  it('lists the upstreams in order, with kinds', () => {
    assert.deepEqual(
      config.upstreams.map((u) => [u.name, u.kind]),
      [
        ['internal', 'feed'],
        ['share', 'folder'],
        ['public', 'feed'],
      ],
    );
  });

  it('takes ${VAR} from the environment and resolves folders against the file', () => {
    const internal = config.upstreams[0];
    assert.equal(internal?.password, 's3cret');
    assert.equal(internal?.username, 'build');
    const s = config.upstreams[1];
    assert.equal(s?.kind === 'folder' ? s.folder : null, share);
  });

  it('keeps the mapping and the policy', () => {
    assert.deepEqual(config.packageSourceMapping, [
      ['internal', ['Contoso.*']],
      ['share', ['Local.*']],
      ['public', ['*']],
    ]);
    assert.equal(config.policy?.minReleaseAgeMs, 7 * 86_400_000);
    assert.deepEqual(config.policy?.vulnerabilities, { minSeverity: 2, action: 'refuse', exempt: [] });
    assert.deepEqual(config.policy?.deny, ['Evil.*', 'Some.Package [1.0.0,1.2.0)']);
    assert.equal(config.policy?.allow, null);
  });

  it('never logs the password', () => {
    const text = JSON.stringify(redactConfig(config));
    assert.doesNotMatch(text, /s3cret/);
    assert.match(text, /"password":"\*\*\*"/);
  });

  it('is read from NUGET_PROXY_CONFIG as well', () => {
    const { config: c } = parseConfig('serve', [], { NUGET_PROXY_CONFIG: path, INTERNAL_FEED_TOKEN: 'x' }, dir);
    assert.equal(c.upstreams.length, 3);
  });
});

describe('merging with flags and environment', () => {
  it('without a file: one upstream named default from --upstream and the upstream flags', () => {
    const { config } = parseConfig('serve', ['--upstream', 'https://a.example/v3/index.json', '--upstream-retries', '5', '--upstream-username', 'u', '--upstream-password', 'p'], {}, dir);
    assert.equal(config.upstreams.length, 1);
    const u = config.upstreams[0];
    assert.equal(u?.name, 'default');
    assert.equal(u?.kind === 'feed' ? u.url : null, 'https://a.example/v3/index.json');
    assert.equal(u?.retries, 5);
    assert.equal(u?.username, 'u');
    assert.equal(config.packageSourceMapping, null);
    assert.equal(config.policy, null);
  });

  it('file settings apply where no flag or variable is given; flags and variables win', () => {
    const path = file('port: 8080\ncache-dir: ./cache-from-file\nlogLevel: debug\nupstream: https://file.example/v3/index.json\n');
    const { config } = parseConfig('serve', ['--config', path, '--port', '9090'], { NUGET_PROXY_LOG_LEVEL: 'warn' }, '/elsewhere');
    assert.equal(config.port, 9090);
    assert.equal(config.logLevel, 'warn');
    assert.equal(config.cacheDir, join(dir, 'cache-from-file'));
    assert.equal(config.upstreams[0]?.kind === 'feed' ? config.upstreams[0].url : null, 'https://file.example/v3/index.json');
  });

  it('global upstream options are the defaults of every upstream; per-upstream settings win', () => {
    const path = file(`upstreams:
  - name: a
    url: https://a.example/v3/index.json
    connectTimeoutMs: 1234
    versionsTtlSeconds: 7
  - name: b
    url: https://b.example/v3/index.json
`);
    const { config } = parseConfig('serve', ['--config', path, '--upstream-connect-timeout-ms', '999', '--versions-ttl-seconds', '60'], {}, dir);
    assert.deepEqual(
      config.upstreams.map((u) => [u.name, u.connectTimeoutMs, u.versionsTtlSeconds]),
      [
        ['a', 1234, 7],
        ['b', 999, 60],
      ],
    );
  });

  it('a file option for another command is accepted and not used', () => {
    const path = file('port: 8080\nconcurrency: 4\n');
    const { config } = parseConfig('prefetch', ['--config', path], {}, dir);
    assert.equal(config.concurrency, 4);
  });
});

describe('every problem at once', () => {
  it('reports file, upstream, mapping, policy and flag problems together', () => {
    const path = file(`port: lots
colour: blue
upstreams:
  - name: internal
    url: ftp://x
    username: build
  - name: internal
    folder: ./no-such-dir
  - name: bad name!
    url: https://x.example/v3/index.json
  - name: both
    url: https://x.example/v3/index.json
    folder: ./share
  - name: typo
    url: https://x.example/v3/index.json
    conectTimeoutMs: 5
    password: \${NOT_SET_ANYWHERE}
packageSourceMapping:
  internal: ["Contoso.*.Core"]
  nobody: ["*"]
policy:
  minReleaseAge: soon
  youngPinned: maybe
  vulnerabilities: { minSeverity: dire, action: shout }
  deny: ["Some.Package [2.0,1.0]"]
  colour: red
`);
    const problems = problemsOf(() => parseConfig('serve', ['--config', path, '--port', '99999', '--upstream-username', 'x', '--upstream-password', 'y'], {}, dir));
    const expected = [
      /--port="99999": must be at most 65535/,
      /port="lots".*whole number/,
      /colour: unknown setting/,
      /upstreams\[0\]\.url="ftp:\/\/x": scheme must be http: or https:/,
      /upstreams\[0\]: username needs a password/,
      /upstreams\[1\]: another upstream is already named 'internal'/,
      /upstreams\[1\]\.folder: ".\/no-such-dir" is not a directory/,
      /upstreams\[2\]: name must be/,
      /upstreams\[3\]: needs exactly one of url .* or folder/,
      /upstreams\[4\]\.conectTimeoutMs: unknown upstream setting/,
      /environment variable NOT_SET_ANYWHERE is not set/,
      /packageSourceMapping\.internal: 'Contoso\.\*\.Core' is not a package id or a prefix/,
      /packageSourceMapping\.nobody: no upstream is named 'nobody'/,
      /policy\.minReleaseAge: "soon" is not a duration/,
      /policy\.youngPinned: must be refuse or allow/,
      /policy\.vulnerabilities\.minSeverity: must be one of low, moderate, high, critical/,
      /policy\.vulnerabilities\.action: must be hide or refuse/,
      /policy\.deny: "Some\.Package \[2\.0,1\.0\]": '\[2\.0,1\.0\]' is not a NuGet version range/,
      /policy\.colour: unknown setting/,
      /--upstream-username sets the one upstream .* set it on one of them/,
    ];
    for (const re of expected) assert.ok(problems.some((p) => re.test(p)), `missing ${re}:\n${problems.join('\n')}`);
  });

  it('names a missing file and invalid YAML', () => {
    assert.ok(problemsOf(() => parseConfig('serve', ['--config', join(dir, 'absent.yaml')], {}, dir)).some((p) => /absent\.yaml.*file not found/.test(p)));
    const bad = file('upstreams: [\n  - name: x\n');
    assert.ok(problemsOf(() => parseConfig('serve', ['--config', bad], {}, dir)).some((p) => /not valid YAML/.test(p)));
  });

  it('keeps a literal ${ written as $${', () => {
    const path = file('upstreams:\n  - name: a\n    url: https://a.example/v3/index.json\n    username: u\n    password: "pa$${ss}"\n');
    assert.equal(parseConfig('serve', ['--config', path], {}, dir).config.upstreams[0]?.password, 'pa${ss}');
  });
});

describe('nugetConfig: sources, mapping and credentials from a nuget.config', () => {
  const nugetConfig = file(
    `<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
    <add key="Contoso Feed" value="https://pkgs.corp.example/nuget/v3/index.json" />
    <add key="local" value="share" />
    <add key="old" value="https://old.example/feed/" />
  </packageSources>
  <disabledPackageSources>
    <add key="old" value="true" />
  </disabledPackageSources>
  <packageSourceCredentials>
    <Contoso_x0020_Feed>
      <add key="Username" value="build" />
      <add key="ClearTextPassword" value="%FEED_TOKEN%" />
    </Contoso_x0020_Feed>
  </packageSourceCredentials>
  <packageSourceMapping>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
    <packageSource key="Contoso Feed"><package pattern="Contoso.*" /></packageSource>
    <packageSource key="local"><package pattern="Local.*" /></packageSource>
    <packageSource key="old"><package pattern="Old.*" /></packageSource>
  </packageSourceMapping>
</configuration>
`,
    'nuget.config',
  );

  it('turns sources into upstreams (disabled ones left out), keys into names, %VAR% into values', () => {
    const path = file(`nugetConfig: ./nuget.config\nupstreams:\n  - name: Contoso-Feed\n    versionsTtlSeconds: 30\n`);
    const { config } = parseConfig('serve', ['--config', path], { FEED_TOKEN: 'tok' }, dir);
    assert.deepEqual(
      config.upstreams.map((u) => [u.name, u.kind, u.kind === 'feed' ? u.url : u.folder]),
      [
        ['nuget.org', 'feed', 'https://api.nuget.org/v3/index.json'],
        ['Contoso-Feed', 'feed', 'https://pkgs.corp.example/nuget/v3/index.json'],
        ['local', 'folder', share],
      ],
    );
    const contoso = config.upstreams[1];
    assert.equal(contoso?.username, 'build');
    assert.equal(contoso?.password, 'tok');
    assert.equal(contoso?.versionsTtlSeconds, 30, 'a YAML entry with the same name adds settings');
    const mapping = new Map(config.packageSourceMapping);
    assert.deepEqual(mapping.get('Contoso-Feed'), ['Contoso.*']);
    assert.deepEqual(mapping.get('local'), ['Local.*']);
    // The disabled source keeps its patterns, mapped to no upstream: Old.* is found nowhere, as in NuGet.
    assert.ok([...mapping.entries()].some(([name, patterns]) => name.endsWith('old') && patterns[0] === 'Old.*'));
  });

  it('refuses an encrypted Password (Windows-only) and a V2 feed', () => {
    const nc = file(
      `<configuration>
  <packageSources><add key="feed" value="https://pkgs.example/v3/index.json" /><add key="v2" value="https://v2.example/api/v2" /></packageSources>
  <packageSourceCredentials><feed><add key="Username" value="u" /><add key="Password" value="AQAAANCMnd8BFdERjHoAwE" /></feed></packageSourceCredentials>
</configuration>`,
      'encrypted.config',
    );
    const path = file('nugetConfig: encrypted.config\n');
    const problems = problemsOf(() => parseConfig('serve', ['--config', path], {}, dir));
    assert.ok(problems.some((p) => /encrypted <Password>, which only Windows \(DPAPI\) can decrypt; use ClearTextPassword/.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /V2 feed/.test(p)), problems.join('\n'));
  });
});

describe('policy section', () => {
  const table: Array<[string, string, unknown]> = [
    ['36h', 'minReleaseAgeMs', 36 * 3_600_000],
    ['90m', 'minReleaseAgeMs', 90 * 60_000],
    ['2w', 'minReleaseAgeMs', 14 * 86_400_000],
    ['0', 'minReleaseAgeMs', null],
  ];
  for (const [age, key, value] of table) {
    it(`minReleaseAge ${age}`, () => {
      const path = file(`policy:\n  minReleaseAge: "${age}"\n`);
      assert.equal((parseConfig('serve', ['--config', path], {}, dir).config.policy as unknown as Record<string, unknown>)[key], value);
    });
  }

  it('defaults: youngPinned refuse; vulnerabilities high/refuse; numeric severities', () => {
    const path = file('policy:\n  minReleaseAge: 1d\n  vulnerabilities: { minSeverity: 1, exempt: ["Legacy.*", "https://github.com/advisories/GHSA-xxxx"] }\n  allow: ["Contoso.*", "Newtonsoft.Json [13.0.1,)"]\n');
    const p = parseConfig('serve', ['--config', path], {}, dir).config.policy;
    assert.equal(p?.youngPinned, 'refuse');
    assert.deepEqual(p?.vulnerabilities, { minSeverity: 1, action: 'refuse', exempt: ['Legacy.*', 'https://github.com/advisories/GHSA-xxxx'] });
    assert.deepEqual(p?.allow, ['Contoso.*', 'Newtonsoft.Json [13.0.1,)']);
  });
});

describe('the documented example (docs/upstreams-and-policy.md)', () => {
  it('parses; only the example machine\'s folder and CA file are missing here', () => {
    const readme = readFileSync(new URL('../../docs/upstreams-and-policy.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Several feeds'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    assert.match(yaml, /packageSourceMapping:/);
    const path = file(yaml);
    const problems = problemsOf(() => parseConfig('serve', ['--config', path], { INTERNAL_FEED_TOKEN: 't' }, dir));
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.ok(problems.some((p) => /upstreams\[1\]\.folder: "\/srv\/nuget\/packages" is not a directory/.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /upstreams\[0\]\.caFile=.*file not found/.test(p)), problems.join('\n'));
  });
});
