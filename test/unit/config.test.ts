// Tests for configuration parsing (src/config.ts): defaults, NUGET_PROXY_* environment variables, flags over env,
// every problem reported at once, egress proxy variables, redaction and --help. Pure except for TLS/CA files,
// which live in a temp dir.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { COMMANDS, ConfigError, OPTIONS, envName, parseConfig, parseSize, redactConfig, renderConfigReference, renderOptionsHelp, type Command } from '../../src/config.ts';
import { closestMatch, editDistance } from '../../src/suggest.ts';

const BASE_DIR = '/srv/nuget-proxy';

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

describe('parseConfig: defaults', () => {
  const { config, positionals } = parseConfig('serve', [], {}, BASE_DIR);

  const defaults: Array<[string, unknown]> = [
    ['host', '127.0.0.1'],
    ['port', 5555],
    ['publicUrl', null],
    ['trustProxy', false],
    ['upstream', 'https://api.nuget.org/v3/index.json'],
    ['offline', false],
    ['cacheDir', resolve(BASE_DIR, 'data')],
    ['redisUrl', null],
    ['redisCluster', false],
    ['fillLeaseSeconds', 30],
    ['logLevel', 'info'],
    ['logFormat', 'json'],
    ['upstreamRetries', 3],
    ['breakerFailures', 3],
    ['httpsProxy', null],
    ['noProxy', null],
    ['tlsCert', null],
    // A VM install uses its cores; the container image and the chart set 1.
    ['workers', availableParallelism()],
  ];
  for (const [key, value] of defaults) {
    it(`${key} defaults to ${JSON.stringify(value)}`, () => {
      assert.equal((config as unknown as Record<string, unknown>)[key], value);
    });
  }

  it('has a value for every option and no positionals', () => {
    for (const spec of OPTIONS) assert.ok(spec.key in config, spec.key);
    assert.deepEqual(positionals, []);
  });

  it('is frozen', () => {
    assert.ok(Object.isFrozen(config));
    assert.throws(() => {
      (config as unknown as Record<string, unknown>)['port'] = 1;
    }, TypeError);
  });
});

describe('parseConfig: environment and flags', () => {
  it('reads NUGET_PROXY_* variables', () => {
    const { config } = parseConfig(
      'serve',
      [],
      { NUGET_PROXY_PORT: '8080', NUGET_PROXY_HOST: '0.0.0.0', NUGET_PROXY_OFFLINE: 'yes', NUGET_PROXY_LOG_LEVEL: 'debug', NUGET_PROXY_CACHE_DIR: 'cache' },
      BASE_DIR,
    );
    assert.equal(config.port, 8080);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.offline, true);
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.cacheDir, resolve(BASE_DIR, 'cache'));
  });

  it('reads the Redis Cluster and fill lease settings', () => {
    const { config } = parseConfig(
      'serve',
      [],
      { NUGET_PROXY_REDIS_URL: 'redis://10.0.0.5:7000', NUGET_PROXY_REDIS_CLUSTER: 'true', NUGET_PROXY_FILL_LEASE_SECONDS: '12' },
      BASE_DIR,
    );
    assert.equal(config.redisCluster, true);
    assert.equal(config.fillLeaseSeconds, 12);
  });

  it('ignores empty environment variables', () => {
    const { config } = parseConfig('serve', [], { NUGET_PROXY_PORT: '' }, BASE_DIR);
    assert.equal(config.port, 5555);
  });

  it('lets flags override the environment', () => {
    const { config } = parseConfig('serve', ['--port', '9000', '--log-level=warn'], { NUGET_PROXY_PORT: '8080', NUGET_PROXY_LOG_LEVEL: 'debug' }, BASE_DIR);
    assert.equal(config.port, 9000);
    assert.equal(config.logLevel, 'warn');
  });

  it('accepts --flag=value', () => {
    const { config } = parseConfig('serve', ['--port=9001', '--public-url=https://nuget.corp.example/nuget'], {}, BASE_DIR);
    assert.equal(config.port, 9001);
    assert.equal(config.publicUrl, 'https://nuget.corp.example/nuget');
  });

  const bools: Array<[string[], Record<string, string>, boolean]> = [
    [['--offline'], {}, true],
    [['--no-offline'], { NUGET_PROXY_OFFLINE: 'true' }, false],
    [['--offline=false'], { NUGET_PROXY_OFFLINE: '1' }, false],
    [['--offline=on'], {}, true],
    [[], { NUGET_PROXY_OFFLINE: 'off' }, false],
    [[], { NUGET_PROXY_OFFLINE: 'TRUE' }, true],
  ];
  for (const [argv, env, expected] of bools) {
    it(`offline=${expected} for ${JSON.stringify(argv)} with ${JSON.stringify(env)}`, () => {
      assert.equal(parseConfig('serve', argv, env, BASE_DIR).config.offline, expected);
    });
  }

  it('collects positionals', () => {
    const { positionals } = parseConfig('prefetch', ['a.csproj', '--offline', 'b.csproj'], {}, BASE_DIR);
    assert.deepEqual(positionals, ['a.csproj', 'b.csproj']);
  });

  it('takes everything after -- as an argument', () => {
    const { positionals, config } = parseConfig('prefetch', ['--offline', '--', '--weird-name.json', '-x'], {}, BASE_DIR);
    assert.deepEqual(positionals, ['--weird-name.json', '-x']);
    assert.equal(config.offline, true);
  });

  it('reads the conventional egress proxy variables, upper or lower case', () => {
    const upper = parseConfig('serve', [], { HTTPS_PROXY: 'http://proxy.corp:3128', HTTP_PROXY: 'http://proxy.corp:3129', NO_PROXY: 'localhost,.corp.example' }, BASE_DIR).config;
    assert.equal(upper.httpsProxy, 'http://proxy.corp:3128');
    assert.equal(upper.httpProxy, 'http://proxy.corp:3129');
    assert.equal(upper.noProxy, 'localhost,.corp.example');
    const lower = parseConfig('serve', [], { https_proxy: 'http://p:1', http_proxy: 'http://p:2', no_proxy: '*' }, BASE_DIR).config;
    assert.deepEqual([lower.httpsProxy, lower.httpProxy, lower.noProxy], ['http://p:1', 'http://p:2', '*']);
  });

  it('lets --https-proxy override HTTPS_PROXY', () => {
    const { config } = parseConfig('serve', ['--https-proxy', 'http://flag:8080'], { HTTPS_PROXY: 'http://env:3128' }, BASE_DIR);
    assert.equal(config.httpsProxy, 'http://flag:8080');
  });
});

describe('parseConfig: --workers', () => {
  it('takes a count or auto (one per CPU this process may use)', () => {
    assert.equal(parseConfig('serve', ['--workers', '3'], {}, BASE_DIR).config.workers, 3);
    assert.equal(parseConfig('serve', [], { NUGET_PROXY_WORKERS: '1' }, BASE_DIR).config.workers, 1);
    assert.equal(parseConfig('serve', ['--workers=AUTO'], { NUGET_PROXY_WORKERS: '1' }, BASE_DIR).config.workers, availableParallelism());
  });

  it('refuses 0, words and fractions, naming auto', () => {
    for (const bad of ['0', 'many', '1.5', '-2', '257']) {
      assert.throws(() => parseConfig('serve', ['--workers', bad], {}, BASE_DIR), (err: unknown) => err instanceof ConfigError && /--workers=.*(whole number or auto|from 1 to 256, or auto)/.test(err.message), bad);
    }
  });

  it('is an option of serve only', () => {
    assert.throws(() => parseConfig('prefetch', ['--workers', '2'], {}, BASE_DIR), /unknown option --workers/);
  });
});

describe('parseConfig: problems', () => {
  it('reports a bad port, a bad URL and an unknown flag together (3 problems)', () => {
    const problems = problemsOf(() => parseConfig('serve', ['--port', 'abc', '--upstream', 'not a url', '--bogus'], {}, BASE_DIR));
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('--port') && p.includes('whole number')));
    assert.ok(problems.some((p) => p.includes('--upstream') && p.includes('absolute URL')));
    assert.ok(problems.some((p) => p.includes('--bogus')));
  });

  it('reports environment and flag problems in one error', () => {
    const problems = problemsOf(() => parseConfig('serve', ['--log-level', 'loud'], { NUGET_PROXY_PORT: '70000', NUGET_PROXY_OFFLINE: 'maybe' }, BASE_DIR));
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('NUGET_PROXY_PORT') && p.includes('at most 65535')));
    assert.ok(problems.some((p) => p.startsWith('NUGET_PROXY_OFFLINE') && p.includes('true or false')));
    assert.ok(problems.some((p) => p.startsWith('--log-level') && p.includes('one of')));
  });

  const single: Array<[Command, string[], Record<string, string>, RegExp]> = [
    ['serve', ['--port', '-1'], {}, /at least 0/],
    ['serve', ['--port'], {}, /--port needs a value/],
    ['serve', ['--port', '--offline'], {}, /--port needs a value/],
    ['serve', ['--upstream', 'ftp://example.org/index.json'], {}, /scheme must be http: or https:/],
    ['serve', ['--public-url', 'https://x.example/?a=b'], {}, /query or fragment/],
    ['serve', ['--redis-url', 'http://redis:6379'], {}, /scheme must be redis: or rediss:/],
    ['serve', ['--upstream-header', 'no colon here'], {}, /Name: value/],
    ['serve', ['--concurrency', '4'], {}, /unknown option --concurrency for 'serve'/],
    ['serve', ['--no-port'], {}, /unknown option --no-port/],
    ['serve', ['--upstream-username', 'u'], {}, /needs --upstream-password/],
    ['serve', ['--upstream-password', 'p'], {}, /needs --upstream-username/],
    ['serve', ['--breaker-backoff-ms', '5000', '--breaker-max-backoff-ms', '1000'], {}, /breaker-max-backoff-ms must be >=/],
    ['export', [], {}, /export needs --output/],
    ['serve', ['--redis-cluster'], {}, /--redis-cluster needs --redis-url/],
    ['serve', ['--fill-lease-seconds', '0'], {}, /at least 1/],
    ['prefetch', ['--concurrency', '65'], {}, /at most 64/],
  ];
  for (const [command, argv, env, pattern] of single) {
    it(`${command} ${argv.join(' ')}: ${pattern.source}`, () => {
      const problems = problemsOf(() => parseConfig(command, argv, env, BASE_DIR));
      assert.ok(problems.some((p) => pattern.test(p)), problems.join('\n'));
    });
  }

  it('puts every problem in the error message', () => {
    try {
      parseConfig('serve', ['--port', 'x', '--bogus'], {}, BASE_DIR);
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      for (const p of err.problems) assert.ok(err.message.includes(p));
    }
  });

  it('never echoes a secret value in a problem', () => {
    const problems = problemsOf(() => parseConfig('serve', ['--upstream-header', 'hunter2-no-colon'], { HTTPS_PROXY: 'not a url hunter2' }, BASE_DIR));
    assert.equal(problems.length, 2, problems.join('\n'));
    for (const p of problems) assert.ok(!p.includes('hunter2'), p);
  });
});

describe('parseConfig: a strict command line', () => {
  const refused: Array<[Command, string[], string]> = [
    // Each problem names the closest valid option.
    ['serve', ['--upstream-url', 'https://feed.example/v3/index.json'], "unknown option --upstream-url for 'serve'; did you mean --upstream?"],
    ['serve', ['--prot', '5000'], "unknown option --prot for 'serve'; did you mean --port?"],
    ['serve', ['--cache-dri=/srv/cache'], "unknown option --cache-dri for 'serve'; did you mean --cache-dir?"],
    ['serve', ['--offlien'], "unknown option --offlien for 'serve'; did you mean --offline?"],
    ['serve', ['--concurrency', '4'], "unknown option --concurrency for 'serve' (it is an option of prefetch, cache verify)"],
    ['serve', ['--no-port'], "unknown option --no-port for 'serve' (--port takes a value; only on/off options have a --no- form)"],
    ['serve', ['--frobnicate', 'x'], "unknown option --frobnicate for 'serve' (see nuget-proxy serve --help)"],
    ['cache purge', ['--dryrun', 'x.*'], "unknown option --dryrun for 'cache purge'; did you mean --dry-run?"],
    ['serve', ['--json'], "unknown option --json for 'serve' (it is an option of cache)"],
    // Single-dash forms are refused with a hint (serve -p 5000 used to start on 5555).
    ['serve', ['-p', '5000'], '-p: options take two dashes; did you mean --port?'],
    ['serve', ['-port', '5000'], '-port: options take two dashes; did you mean --port?'],
    ['serve', ['-offline'], '-offline: options take two dashes; did you mean --offline?'],
    ['export', ['-o', 'b.tar'], '-o: options take two dashes; did you mean --output?'],
    ['serve', ['-z'], '-z: options take two dashes (see nuget-proxy serve --help)'],
    // Stray arguments.
    ['serve', ['5000'], "unexpected argument '5000': 'serve' takes no arguments, only options (see nuget-proxy serve --help)"],
    ['serve', ['port', '5000'], "unexpected argument 'port': 'serve' takes no arguments, only options; did you mean --port?"],
    ['export', ['--output', 'b.tar', 'extra'], "unexpected argument 'extra': 'export' takes no arguments, only options (see nuget-proxy export --help)"],
    ['import', ['a.tar', 'b.tar'], "unexpected argument 'b.tar': 'import' takes one argument: <bundle> (see nuget-proxy import --help)"],
    ['cache stats', ['newtonsoft.json'], "unexpected argument 'newtonsoft.json': 'cache stats' takes no arguments, only options (see nuget-proxy cache stats --help)"],
  ];
  for (const [command, argv, expected] of refused) {
    it(`${command} ${argv.join(' ')} → ${expected}`, () => {
      const problems = problemsOf(() => parseConfig(command, argv, {}, BASE_DIR));
      assert.equal(problems[0], expected, problems.join('\n'));
    });
  }

  it('reports a single-dash option once, not its value as a stray argument too', () => {
    const problems = problemsOf(() => parseConfig('serve', ['-p', '5000', '--offline'], {}, BASE_DIR));
    assert.equal(problems.length, 1, problems.join('\n'));
  });

  it('takes negative numbers as values, and a lone - as an argument', () => {
    assert.ok(problemsOf(() => parseConfig('serve', ['--port', '-1'], {}, BASE_DIR)).some((p) => /at least 0/.test(p)));
    assert.deepEqual(parseConfig('prefetch', ['-'], {}, BASE_DIR).positionals, ['-']);
  });

  it('has a usage line and arguments for every command', () => {
    for (const [command, spec] of Object.entries(COMMANDS)) {
      assert.ok(spec.summary.length > 10, command);
      assert.ok(spec.maxArgs >= 0, command);
      assert.equal(spec.args === '', spec.maxArgs === 0, `${command}: args text iff it takes arguments`);
    }
  });
});

describe('parseConfig: NUGET_PROXY_* variables no option reads', () => {
  it('warns about a misspelled variable, naming the closest one, and still starts', () => {
    const { config, notes } = parseConfig('serve', [], { NUGET_PROXY_UPSTREAM_URL: 'https://feed.example/v3/index.json', NUGET_PROXY_PROT: '5000' }, BASE_DIR);
    assert.equal(config.upstream, 'https://api.nuget.org/v3/index.json', 'the misspelled variable is not used');
    assert.deepEqual(
      notes.map((n) => [n.level, n.detail]),
      [
        ['warn', 'NUGET_PROXY_UPSTREAM_URL is not a nuget-proxy setting and is ignored; did you mean NUGET_PROXY_UPSTREAM (--upstream)?'],
        ['warn', 'NUGET_PROXY_PROT is not a nuget-proxy setting and is ignored; did you mean NUGET_PROXY_PORT (--port)?'],
      ],
    );
    assert.equal(notes[0]?.suggestion, 'NUGET_PROXY_UPSTREAM');
  });

  it('says nothing about variables of other commands, empty ones, or other prefixes', () => {
    const { notes } = parseConfig('serve', [], { NUGET_PROXY_CONCURRENCY: '4', NUGET_PROXY_JSON: '1', NUGET_PROXY_TYPO: '', NUGETPROXY_PORT: '1', HOME: '/root' }, BASE_DIR);
    assert.deepEqual(notes, []);
  });

  it('warns without a suggestion when nothing is close', () => {
    const { notes } = parseConfig('serve', [], { NUGET_PROXY_BANANA_SPLIT: 'yes' }, BASE_DIR);
    assert.equal(notes[0]?.detail, 'NUGET_PROXY_BANANA_SPLIT is not a nuget-proxy setting and is ignored');
  });

  // What the kubelet injects into a pod for a Service named nuget-proxy (and nuget-proxy-metrics) in its namespace.
  const POD_ENV: Record<string, string> = {
    NUGET_PROXY_SERVICE_HOST: '10.96.12.34',
    NUGET_PROXY_SERVICE_PORT: '5555',
    NUGET_PROXY_SERVICE_PORT_HTTP: '5555',
    NUGET_PROXY_PORT: 'tcp://10.96.12.34:5555',
    NUGET_PROXY_PORT_5555_TCP: 'tcp://10.96.12.34:5555',
    NUGET_PROXY_PORT_5555_TCP_PROTO: 'tcp',
    NUGET_PROXY_PORT_5555_TCP_PORT: '5555',
    NUGET_PROXY_PORT_5555_TCP_ADDR: '10.96.12.34',
    NUGET_PROXY_METRICS_SERVICE_HOST: '10.96.12.35',
    NUGET_PROXY_METRICS_PORT: 'tcp://10.96.12.35:9100',
    NUGET_PROXY_METRICS_PORT_9100_TCP_ADDR: '10.96.12.35',
    KUBERNETES_SERVICE_HOST: '10.96.0.1',
    NUGET_PROXY_HOST: '0.0.0.0',
  };

  it('recognises Kubernetes service links: starts on the default port with one note about NUGET_PROXY_PORT=tcp://…', () => {
    const { config, notes } = parseConfig('serve', [], POD_ENV, BASE_DIR);
    assert.equal(config.port, 5555);
    assert.equal(config.host, '0.0.0.0');
    assert.deepEqual(
      notes.map((n) => [n.level, n.variable]),
      [['info', 'NUGET_PROXY_PORT']],
    );
    assert.match(notes[0]?.detail ?? '', /NUGET_PROXY_PORT=tcp:\/\/10\.96\.12\.34:5555 is a Kubernetes service link \(a Service named nuget-proxy\), not a port: ignored/);
  });

  it('still reads a real NUGET_PROXY_PORT', () => {
    const { config, notes } = parseConfig('serve', [], { ...POD_ENV, NUGET_PROXY_PORT: '8080' }, BASE_DIR);
    assert.equal(config.port, 8080);
    assert.deepEqual(notes, []);
  });
});

describe('did-you-mean', () => {
  const distances: Array<[string, string, number]> = [
    ['port', 'port', 0],
    ['prot', 'port', 1],
    ['porxy', 'proxy', 1],
    ['upstream-url', 'upstream', 4],
    ['', 'abc', 3],
  ];
  for (const [a, b, d] of distances) it(`editDistance(${a}, ${b}) = ${d}`, () => assert.equal(editDistance(a, b), d));

  it('suggests only plausible candidates', () => {
    assert.equal(closestMatch('offlien', ['offline', 'output']), 'offline');
    assert.equal(closestMatch('UPSTREAM_URL', ['UPSTREAM', 'UPSTREAM_USERNAME']), 'UPSTREAM');
    assert.equal(closestMatch('banana', ['port', 'upstream']), null);
    assert.equal(closestMatch('x', ['port']), null);
  });
});

describe('parseConfig: object storage (--blob-store s3://…)', () => {
  it('defaults to the cache directory, region us-east-1, virtual-host addressing', () => {
    const { config } = parseConfig('serve', [], {}, BASE_DIR);
    assert.equal(config.blobStore, null);
    assert.equal(config.s3Endpoint, null);
    assert.equal(config.s3Region, 'us-east-1');
    assert.equal(config.s3ForcePathStyle, false);
    assert.equal(parseConfig('serve', ['--blob-store', ''], {}, BASE_DIR).config.blobStore, null, 'empty means the cache directory');
    assert.equal(parseConfig('serve', [], { NUGET_PROXY_BLOB_STORE: '' }, BASE_DIR).config.blobStore, null);
  });

  it('reads the flags and NUGET_PROXY_* variables, and normalizes the prefix to end with /', () => {
    const { config } = parseConfig(
      'serve',
      ['--blob-store', 's3://nuget-cache/team/a'],
      { NUGET_PROXY_S3_ENDPOINT: 'http://127.0.0.1:9000', NUGET_PROXY_S3_REGION: 'eu-west-3', NUGET_PROXY_S3_FORCE_PATH_STYLE: 'true' },
      BASE_DIR,
    );
    assert.equal(config.blobStore, 's3://nuget-cache/team/a/');
    assert.equal(config.s3Endpoint, 'http://127.0.0.1:9000');
    assert.equal(config.s3Region, 'eu-west-3');
    assert.equal(config.s3ForcePathStyle, true);
    assert.equal(parseConfig('import', ['bundle.tar'], { NUGET_PROXY_BLOB_STORE: 's3://b.example-1' }, BASE_DIR).config.blobStore, 's3://b.example-1/');
    assert.equal(parseConfig('prefetch', ['--blob-store=s3://bkt/'], {}, BASE_DIR).config.blobStore, 's3://bkt/');
  });

  it('takes the region from AWS_REGION when NUGET_PROXY_S3_REGION is not set', () => {
    assert.equal(parseConfig('serve', [], { AWS_REGION: 'ap-south-1' }, BASE_DIR).config.s3Region, 'ap-south-1');
    assert.equal(parseConfig('serve', [], { AWS_REGION: 'ap-south-1', NUGET_PROXY_S3_REGION: 'us-west-2' }, BASE_DIR).config.s3Region, 'us-west-2');
  });

  const bad: Array<[string, RegExp]> = [
    ['https://bucket/prefix', /must look like s3:\/\/BUCKET\/PREFIX/],
    ['s3://bucket/prefix?versionId=1', /must look like/],
    ['s3://ab/x', /3 to 63 characters/],
    [`s3://${'a'.repeat(64)}/x`, /3 to 63 characters/],
    ['s3://My_Bucket/x', /only lowercase letters, digits/],
    ['s3://-bucket/x', /begin and end with a letter or digit/],
    ['s3://bucket-/x', /begin and end/],
    ['s3://my..bucket/x', /two adjacent periods/],
    ['s3://192.168.5.4/x', /IP address/],
    ['s3://xn--bucket/x', /must not start with xn--/],
    ['s3://bucket-s3alias/x', /must not end with -s3alias/],
    ['s3://user:secret@bucket/x', /only lowercase letters/],
    ['s3://bucket/a//b', /prefix "a\/\/b"/],
    ['s3://bucket/../up', /prefix/],
    ['s3://bucket/a b/', /prefix/],
  ];
  for (const [value, pattern] of bad) {
    it(`refuses --blob-store ${value.slice(0, 40)}: ${pattern.source}`, () => {
      const problems = problemsOf(() => parseConfig('serve', ['--blob-store', value], {}, BASE_DIR));
      assert.ok(problems.some((p) => pattern.test(p)), problems.join('\n'));
    });
  }

  it('reports every problem at once: bucket rules, prefix, endpoint, region', () => {
    const problems = problemsOf(() =>
      parseConfig('serve', ['--blob-store', 's3://A_/x//y', '--s3-endpoint', 'ftp://u:p@minio:9000', '--s3-region', 'eu west'], {}, BASE_DIR),
    );
    for (const pattern of [/3 to 63/, /only lowercase/, /begin and end/, /prefix/, /scheme must be http: or https:/, /must not hold credentials/, /not a region name/])
      assert.ok(problems.some((p) => pattern.test(p)), `${pattern.source} in\n${problems.join('\n')}`);
    assert.ok(!problems.some((p) => p.includes('u:p@')), 'endpoint credentials are not echoed');
  });

  it('refuses S3 settings without an S3 blob store (a forgotten --blob-store would silently use the disk)', () => {
    const problems = problemsOf(() => parseConfig('serve', ['--s3-endpoint', 'http://127.0.0.1:9000', '--s3-force-path-style'], {}, BASE_DIR));
    assert.ok(problems.some((p) => /--s3-endpoint needs --blob-store/.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /--s3-force-path-style needs --blob-store/.test(p)), problems.join('\n'));
  });
});

describe('parseConfig: TLS and CA files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nuget-proxy-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const notPem = join(dir, 'not.pem');
  writeFileSync(cert, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  writeFileSync(key, '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n');
  writeFileSync(notPem, 'hello');

  it('accepts a certificate with its key', () => {
    const { config } = parseConfig('serve', ['--tls-cert', cert, '--tls-key', key], {}, BASE_DIR);
    assert.equal(config.tlsCert, cert);
    assert.equal(config.tlsKey, key);
  });

  it('rejects a certificate without a key', () => {
    const problems = problemsOf(() => parseConfig('serve', ['--tls-cert', cert], {}, BASE_DIR));
    assert.ok(problems.some((p) => p.includes('--tls-cert and --tls-key must be given together')), problems.join('\n'));
  });

  it('rejects a key without a certificate', () => {
    const problems = problemsOf(() => parseConfig('serve', [], { NUGET_PROXY_TLS_KEY: key }, BASE_DIR));
    assert.ok(problems.some((p) => p.includes('must be given together')), problems.join('\n'));
  });

  it('reports missing files and non-PEM content', () => {
    const missing = problemsOf(() => parseConfig('serve', ['--tls-cert', join(dir, 'nope.pem'), '--tls-key', key], {}, BASE_DIR));
    assert.ok(missing.some((p) => p.includes('file not found')), missing.join('\n'));
    const swapped = problemsOf(() => parseConfig('serve', ['--tls-cert', notPem, '--tls-key', notPem], {}, BASE_DIR));
    assert.ok(swapped.some((p) => p.includes('not a PEM certificate')), swapped.join('\n'));
    assert.ok(swapped.some((p) => p.includes('not a PEM private key')), swapped.join('\n'));
    const ca = problemsOf(() => parseConfig('serve', ['--upstream-ca-file', notPem], {}, BASE_DIR));
    assert.ok(ca.some((p) => p.includes('not a PEM certificate bundle')), ca.join('\n'));
  });

  it('resolves relative file paths against the base directory', () => {
    const { config } = parseConfig('serve', ['--tls-cert', 'cert.pem', '--tls-key', 'key.pem'], {}, dir);
    assert.equal(config.tlsCert, cert);
  });
});

describe('redactConfig', () => {
  const { config } = parseConfig(
    'serve',
    ['--upstream-username', 'builder', '--upstream-password', 'hunter2', '--upstream-header', 'X-NuGet-ApiKey: sekrit-key', '--redis-url', 'redis://:redispw@redis:6379/0'],
    { HTTPS_PROXY: 'http://proxyuser:proxypw@proxy.corp:3128', HTTP_PROXY: 'http://proxy.corp:3129' },
    BASE_DIR,
  );
  const redacted = redactConfig(config);
  const text = JSON.stringify(redacted);

  for (const secret of ['hunter2', 'sekrit-key', 'redispw', 'proxypw', 'proxyuser']) {
    it(`hides ${secret}`, () => {
      assert.ok(!text.includes(secret), text);
    });
  }

  it('masks secret options and URL credentials, keeps the rest', () => {
    assert.equal(redacted['upstreamPassword'], '***');
    assert.equal(redacted['upstreamHeader'], '***');
    assert.equal(redacted['redisUrl'], 'redis://***@redis:6379/0');
    assert.equal(redacted['upstreamUsername'], 'builder');
    assert.equal(redacted['httpProxy'], 'http://proxy.corp:3129');
    assert.equal(redacted['port'], 5555);
    assert.equal(redacted['upstreamToken'], null, 'unset secrets stay null');
  });

  it('shows unset secrets as unset (null) in a log line, set ones as ***', async () => {
    const { Writable } = await import('node:stream');
    const { createLogger } = await import('../../src/logger.ts');
    let text = '';
    const sink = new Writable({ write: (chunk: Buffer, _e, cb) => ((text += chunk.toString()), cb()) });
    const log = createLogger({ level: 'info', format: 'json' }, sink);
    log.info({ config: redactConfig(parseConfig('serve', ['--upstream-token', 'tok-123'], {}, BASE_DIR).config) }, 'start');
    const line = JSON.parse(text) as { level: string; config: Record<string, unknown> };
    assert.equal(line.level, 'info', 'level names, not numbers');
    assert.equal(line.config['upstreamPassword'], null);
    assert.equal(line.config['upstreamHeader'], null);
    assert.equal(line.config['uiToken'], null);
    assert.equal(line.config['upstreamToken'], '***');
  });

  it('masks a bearer token', () => {
    const r = redactConfig(parseConfig('serve', ['--upstream-token', 'tok-123'], {}, BASE_DIR).config);
    assert.equal(r['upstreamToken'], '***');
  });
});

describe('renderOptionsHelp', () => {
  const commands = Object.keys(COMMANDS) as Command[];
  for (const command of commands) {
    it(`lists exactly the options of '${command}' with their environment variables`, () => {
      const help = renderOptionsHelp(command);
      const flags = new Set([...help.matchAll(/^ {2}--([a-z0-9-]+)/gm)].map((m) => m[1]));
      const expected = new Set(OPTIONS.filter((o) => o.commands.includes(command)).map((o) => o.flag));
      assert.deepEqual([...flags].sort(), [...expected].sort());
      for (const spec of OPTIONS.filter((o) => o.commands.includes(command))) {
        assert.ok(help.includes(`env ${envName(spec)}`), `${spec.flag} without its env var`);
      }
    });
  }

  it('names the cache commands as one in the reference table when an option applies to all of them', () => {
    const reference = renderConfigReference();
    assert.match(reference, /\| `--cache-dir` \| `NUGET_PROXY_CACHE_DIR` \| `\.\/data` \| serve, prefetch, export, import, cache \|/);
    assert.match(reference, /\| `--quarantine` \| `NUGET_PROXY_QUARANTINE` \| `false` \| cache verify \|/);
  });

  it('shows defaults and enum values', () => {
    const help = renderOptionsHelp('serve');
    assert.match(help, /--port <value>\n.*\n\s+env NUGET_PROXY_PORT; default 5555/);
    assert.match(help, /--log-level <fatal\|error\|warn\|info\|debug\|trace\|silent>/);
    assert.match(help, /env HTTPS_PROXY\b/);
  });
});

describe('sizes (--max-cache-size)', () => {
  const cases: Array<[string, number | null]> = [
    ['50GB', 50e9],
    ['50gb', 50e9],
    ['1.5 GB', 1.5e9],
    ['512MiB', 512 * 2 ** 20],
    ['2TiB', 2 * 2 ** 40],
    ['10k', 10_000],
    ['4096', 4096],
    ['0', null],
    ['', null],
    ['-5GB', null],
    ['5 parsecs', null],
    ['GB', null],
  ];
  for (const [raw, bytes] of cases) {
    it(`${JSON.stringify(raw)} → ${bytes}`, () => assert.equal(parseSize(raw), bytes));
  }

  it('parses the flag and reports a bad one with the other problems', () => {
    assert.equal(parseConfig('serve', ['--max-cache-size', '50GB'], {}, BASE_DIR).config.maxCacheSize, 50e9);
    assert.equal(parseConfig('serve', [], {}, BASE_DIR).config.maxCacheSize, null);
    const problems = problemsOf(() => parseConfig('serve', ['--max-cache-size', 'lots', '--evict-unused-days', '0'], {}, BASE_DIR));
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems[0] ?? '', /--max-cache-size="lots": must be a size/);
  });
});
