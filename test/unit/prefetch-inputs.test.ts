// Tests for prefetch's input parsing (src/prefetch/inputs.ts) and collection from disk (src/prefetch/collect.ts):
// realistic packages.lock.json, project.assets.json, SDK-style projects with and without central package
// management, Directory.Packages.props, packages.config and id@version lists.

import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { collectInputs } from '../../src/prefetch/collect.ts';
import {
  InputError,
  detectInputKind,
  expandProperties,
  inputKindOfName,
  msbuildRequests,
  parseAssetsFile,
  parseLockFile,
  parseMsbuild,
  parsePackageList,
  parsePackagesConfig,
  type PackageRequest,
} from '../../src/prefetch/inputs.ts';
import { makeTempDir } from '../helpers/proxy.ts';

const tempDirs: string[] = [];
after(() => Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true }))));

async function tempDir(prefix: string): Promise<string> {
  const dir = await makeTempDir(prefix);
  tempDirs.push(dir);
  return dir;
}

function summary(requests: readonly PackageRequest[]): string[] {
  return requests.map((r) => `${r.lowerId}@${r.spec.kind === 'exact' ? r.spec.lowerVersion : `range:${r.spec.range}`}`).sort();
}

// The shape `dotnet restore --use-lock-file` writes (NuGet.ProjectModel LockFileFormat), with a RID graph.
const LOCK_FILE = JSON.stringify(
  {
    version: 1,
    dependencies: {
      'net8.0': {
        'Microsoft.NET.Test.Sdk': {
          type: 'Direct',
          requested: '[18.0.1, )',
          resolved: '18.0.1',
          contentHash: 'WMsWHnEy9YtVaC4T6kvGn2x9+7l5w6hTYz5JYs0m0Jd3qQ==',
          dependencies: { 'Microsoft.CodeCoverage': '18.0.1', 'Microsoft.TestPlatform.TestHost': '18.0.1' },
        },
        'xunit': {
          type: 'Direct',
          requested: '[2.9.3, )',
          resolved: '2.9.3',
          contentHash: 'TlXQBinK35LpOPKHAqbLY4xlEen9TBafjs0V5KnA4wZsoQLQJiirCR4CbIXvOH8NzkW4YeJKP5P/Bnrodm0h9Q==',
          dependencies: { 'xunit.analyzers': '1.18.0', 'xunit.assert': '2.9.3', 'xunit.core': '[2.9.3]' },
        },
        'Microsoft.CodeCoverage': { type: 'Transitive', resolved: '18.0.1', contentHash: 'abc=' },
        'xunit.analyzers': { type: 'Transitive', resolved: '1.18.0', contentHash: 'def=' },
        'Newtonsoft.Json': { type: 'CentralTransitive', requested: '[13.0.3, )', resolved: '13.0.3', contentHash: 'ghi=' },
        'MyCompany.Shared': { type: 'Project', dependencies: { 'Newtonsoft.Json': '[13.0.3, )' } },
      },
      'net8.0/linux-x64': {
        'xunit': { type: 'Direct', requested: '[2.9.3, )', resolved: '2.9.3', contentHash: 'TlXQ==' },
      },
      'net48': {
        'Microsoft.CodeCoverage': { type: 'Transitive', resolved: '18.0.1', contentHash: 'abc=' },
        'System.Memory': { type: 'Transitive', resolved: '4.5.5', contentHash: 'jkl=' },
      },
    },
  },
  null,
  2,
);

// The assets file `dotnet restore` leaves in obj/: libraries keyed Id/Version, projects among them.
const ASSETS_FILE = JSON.stringify({
  version: 3,
  targets: { 'net8.0': { 'xunit/2.9.3': { type: 'package' } } },
  libraries: {
    'xunit/2.9.3': { sha512: 'TlXQ==', type: 'package', path: 'xunit/2.9.3', files: ['xunit.2.9.3.nupkg.sha512', 'xunit.nuspec'] },
    'xunit.abstractions/2.0.3': { sha512: 'pot1==', type: 'package', path: 'xunit.abstractions/2.0.3', files: [] },
    'Contoso.FourPart/2.0.0.0': { sha512: 'x==', type: 'package', path: 'contoso.fourpart/2.0.0', files: [] },
    'MyCompany.Shared/1.0.0': { type: 'project', path: '../Shared/Shared.csproj', msbuildProject: '../Shared/Shared.csproj' },
  },
  project: {
    version: '1.0.0',
    frameworks: {
      'net8.0': {
        targetAlias: 'net8.0',
        dependencies: { xunit: { target: 'Package', version: '[2.9.3, )' } },
        downloadDependencies: [{ name: 'Microsoft.AspNetCore.App.Ref', version: '[8.0.11, 8.0.11]' }],
      },
    },
  },
});

describe('packages.lock.json', () => {
  it('takes every resolved package of every framework once, skipping projects', () => {
    const r = parseLockFile(LOCK_FILE, 'packages.lock.json');
    assert.deepEqual(summary(r.requests), [
      'microsoft.codecoverage@18.0.1',
      'microsoft.net.test.sdk@18.0.1',
      'newtonsoft.json@13.0.3',
      'system.memory@4.5.5',
      'xunit.analyzers@1.18.0',
      'xunit@2.9.3',
    ]);
    assert.deepEqual(r.problems, []);
    assert.equal(r.requests[0]?.source, 'packages.lock.json');
  });

  it('reports a package without a resolved version', () => {
    const r = parseLockFile(JSON.stringify({ version: 2, dependencies: { 'net8.0': { A: { type: 'Direct', requested: '[1.0, )' } } } }), 'x.json');
    assert.equal(r.requests.length, 0);
    assert.match(r.problems[0] ?? '', /net8\.0\/A has no resolved version/);
  });

  it('refuses JSON that is not a lock file', () => {
    assert.throws(() => parseLockFile('{"foo": 1}', 'x.json'), InputError);
    assert.throws(() => parseLockFile('{not json', 'x.json'), /not valid JSON/);
  });
});

describe('project.assets.json', () => {
  it('takes type:package libraries (normalized) and download dependencies', () => {
    const r = parseAssetsFile(ASSETS_FILE, 'obj/project.assets.json');
    assert.deepEqual(summary(r.requests), [
      'contoso.fourpart@2.0.0',
      'microsoft.aspnetcore.app.ref@range:[8.0.11, 8.0.11]',
      'xunit.abstractions@2.0.3',
      'xunit@2.9.3',
    ]);
    assert.deepEqual(r.problems, []);
  });
});

describe('MSBuild projects and props', () => {
  it('reads Version as an attribute or a child element, in any case, with several ids per Include', () => {
    const doc = parseMsbuild(
      `<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Newtonsoft.Json" Version="13.0.3" />
    <PackageReference Include="xunit">
      <Version>2.9.3</Version>
    </PackageReference>
    <packagereference include="Contoso.A;Contoso.B" version="[1.0.0, 2.0.0)" />
  </ItemGroup>
  <ItemGroup Condition="'$(TargetFramework)' == 'net48'">
    <PackageReference Include="System.Memory" Version="4.5.5" PrivateAssets="all" />
  </ItemGroup>
</Project>`,
      'App.csproj',
    );
    const r = msbuildRequests(doc, 'App.csproj');
    assert.deepEqual(summary(r.requests), [
      'contoso.a@range:[1.0.0, 2.0.0)',
      'contoso.b@range:[1.0.0, 2.0.0)',
      'newtonsoft.json@range:13.0.3',
      'system.memory@range:4.5.5',
      'xunit@range:2.9.3',
    ]);
    assert.deepEqual(r.problems, []);
  });

  it('takes versions from Directory.Packages.props, honours VersionOverride and expands properties', () => {
    const central = parseMsbuild(
      `<Project>
  <PropertyGroup>
    <ManagePackageVersionsCentrally>true</ManagePackageVersionsCentrally>
    <XunitVersion>2.9.3</XunitVersion>
  </PropertyGroup>
  <ItemGroup>
    <PackageVersion Include="xunit" Version="$(XunitVersion)" />
    <PackageVersion Include="Newtonsoft.Json" Version="13.0.3" />
    <PackageVersion Include="Contoso.Unused" Version="1.0.0" />
    <GlobalPackageReference Include="Contoso.Analyzers" Version="3.0.0" />
  </ItemGroup>
</Project>`,
      'Directory.Packages.props',
    );
    const project = parseMsbuild(
      `<Project Sdk="Microsoft.NET.Sdk">
  <ItemGroup>
    <PackageReference Include="xunit" />
    <PackageReference Include="Newtonsoft.Json" VersionOverride="12.0.1" />
    <PackageReference Include="Contoso.Missing" />
  </ItemGroup>
</Project>`,
      'Tests.fsproj',
    );
    const r = msbuildRequests(project, 'Tests.fsproj', central);
    assert.deepEqual(summary(r.requests), ['newtonsoft.json@range:12.0.1', 'xunit@range:2.9.3']);
    assert.equal(r.problems.length, 1);
    assert.match(r.problems[0] ?? '', /Contoso\.Missing has no version/);

    // The props file itself: every PackageVersion and GlobalPackageReference is a request.
    const own = msbuildRequests(central, 'Directory.Packages.props');
    assert.deepEqual(summary(own.requests), [
      'contoso.analyzers@range:3.0.0',
      'contoso.unused@range:1.0.0',
      'newtonsoft.json@range:13.0.3',
      'xunit@range:2.9.3',
    ]);
  });

  it('reports properties it cannot evaluate, invalid ranges and non-MSBuild XML', () => {
    assert.deepEqual(expandProperties('$(A).$(B)', new Map([['a', '1'], ['b', '$(A)']])), { value: '1.1' });
    assert.ok('error' in expandProperties('$(Nope)', new Map()));
    const doc = parseMsbuild('<Project><ItemGroup><PackageReference Include="A" Version="$(V)" /><PackageReference Include="B" Version="[1.0" /></ItemGroup></Project>', 'p.vbproj');
    const r = msbuildRequests(doc, 'p.vbproj');
    assert.equal(r.requests.length, 0);
    assert.equal(r.problems.length, 2);
    assert.throws(() => parseMsbuild('<packages />', 'x.csproj'), InputError);
    assert.throws(() => parseMsbuild('<Project><Item', 'x.csproj'), /not well-formed/);
  });
});

describe('packages.config', () => {
  it('takes each package at its exact version', () => {
    const r = parsePackagesConfig(
      `<?xml version="1.0" encoding="utf-8"?>
<packages>
  <package id="Newtonsoft.Json" version="13.0.3" targetFramework="net48" />
  <package id="xunit" version="2.9.3" targetFramework="net48" allowedVersions="[2,3)" />
  <package id="Broken" />
</packages>`,
      'packages.config',
    );
    assert.deepEqual(summary(r.requests), ['newtonsoft.json@13.0.3', 'xunit@2.9.3']);
    assert.equal(r.problems.length, 1);
  });

  it('accepts an empty packages.config', () => {
    assert.deepEqual(parsePackagesConfig('<packages></packages>', 'packages.config').requests, []);
  });
});

describe('id@version lists', () => {
  it('reads exact versions, ranges and floats, skips comments, reports bad lines with their number', () => {
    const r = parsePackageList(
      `# tools for the build agents
xunit@2.9.3
Newtonsoft.Json@[13.0,14.0)   # pinned major
Contoso.FourPart@2.0.0.0
Contoso.Prerelease@1.0.0-*

not-a-line
bad id@1.0.0
Contoso.X@1.0.0.0.0
`,
      'tools.txt',
    );
    assert.deepEqual(summary(r.requests), [
      'contoso.fourpart@2.0.0',
      'contoso.prerelease@range:1.0.0-*',
      'newtonsoft.json@range:[13.0,14.0)',
      'xunit@2.9.3',
    ]);
    assert.equal(r.problems.length, 3);
    assert.match(r.problems[0] ?? '', /^tools\.txt:7: /);
    assert.equal(r.requests.find((q) => q.lowerId === 'xunit')?.source, 'tools.txt:2');
  });
});

describe('input kinds', () => {
  it('recognises files by name while scanning', () => {
    assert.equal(inputKindOfName('packages.lock.json'), 'lock');
    assert.equal(inputKindOfName('packages.App.lock.json'), 'lock');
    assert.equal(inputKindOfName('project.assets.json'), 'assets');
    assert.equal(inputKindOfName('App.CSPROJ'), 'msbuild');
    assert.equal(inputKindOfName('Lib.fsproj'), 'msbuild');
    assert.equal(inputKindOfName('Directory.Packages.props'), 'msbuild');
    assert.equal(inputKindOfName('packages.config'), 'packages-config');
    assert.equal(inputKindOfName('appsettings.json'), null);
    assert.equal(inputKindOfName('README.md'), null);
  });

  it('recognises a file named on the command line by its content', () => {
    assert.equal(detectInputKind('deps.json', LOCK_FILE), 'lock');
    assert.equal(detectInputKind('assets.json', ASSETS_FILE), 'assets');
    assert.equal(detectInputKind('x.xml', '<?xml version="1.0"?>\n<packages><package id="a" version="1.0.0"/></packages>'), 'packages-config');
    assert.equal(detectInputKind('x.targets', '<Project><ItemGroup /></Project>'), 'msbuild');
    assert.equal(detectInputKind('wanted.txt', 'xunit@2.9.3\n'), 'list');
  });
});

describe('collectInputs', () => {
  it('scans a directory tree, applies the nearest Directory.Packages.props, skips node_modules and de-duplicates', async () => {
    const root = await tempDir('inputs');
    await mkdir(join(root, 'src', 'App', 'obj'), { recursive: true });
    await mkdir(join(root, 'tests', 'App.Tests'), { recursive: true });
    await mkdir(join(root, 'node_modules', 'x'), { recursive: true });
    await mkdir(join(root, 'legacy'), { recursive: true });
    await writeFile(
      join(root, 'Directory.Packages.props'),
      '<Project><ItemGroup><PackageVersion Include="xunit" Version="2.9.3" /><PackageVersion Include="Newtonsoft.Json" Version="13.0.3" /></ItemGroup></Project>',
    );
    await writeFile(join(root, 'src', 'App', 'App.csproj'), '<Project Sdk="Microsoft.NET.Sdk"><ItemGroup><PackageReference Include="Newtonsoft.Json" /></ItemGroup></Project>');
    await writeFile(join(root, 'src', 'App', 'obj', 'project.assets.json'), ASSETS_FILE);
    await writeFile(join(root, 'tests', 'App.Tests', 'App.Tests.csproj'), '<Project Sdk="Microsoft.NET.Sdk"><ItemGroup><PackageReference Include="xunit" /></ItemGroup></Project>');
    await writeFile(join(root, 'tests', 'App.Tests', 'packages.lock.json'), LOCK_FILE);
    await writeFile(join(root, 'legacy', 'packages.config'), '<packages><package id="Newtonsoft.Json" version="13.0.3" /></packages>');
    await writeFile(join(root, 'node_modules', 'x', 'packages.config'), '<packages><package id="Should.Not.Appear" version="1.0.0" /></packages>');
    await writeFile(join(root, 'wanted.txt'), 'Contoso.Dependent@1.0.0\nxunit@2.9.3\n');

    const c = await collectInputs([root, join(root, 'wanted.txt'), join(root, 'nope.json')]);
    assert.deepEqual(c.files.map((f) => f.kind).sort(), ['assets', 'list', 'lock', 'msbuild', 'msbuild', 'msbuild', 'packages-config']);
    const ids = new Set(c.requests.map((r) => r.lowerId));
    assert.ok(!ids.has('should.not.appear'), 'node_modules is skipped');
    for (const id of ['xunit', 'newtonsoft.json', 'contoso.dependent', 'microsoft.aspnetcore.app.ref', 'system.memory']) assert.ok(ids.has(id), id);
    // xunit@2.9.3 exact appears in the lock file, the assets file and the list: once.
    assert.equal(c.requests.filter((r) => r.lowerId === 'xunit' && r.spec.kind === 'exact').length, 1);
    assert.ok(c.requests.some((r) => r.lowerId === 'xunit' && r.spec.kind === 'range' && r.spec.range === '2.9.3'), 'central version applied');
    assert.deepEqual(c.problems, [`${join(root, 'nope.json')}: no such file or directory`]);
  });

  it('reports a directory with nothing to prefetch and a file that is not what its name says', async () => {
    const root = await tempDir('inputs-empty');
    await writeFile(join(root, 'packages.lock.json'), '{ "broken": ');
    const empty = join(root, 'empty');
    await mkdir(empty);
    const c = await collectInputs([empty, join(root, 'packages.lock.json')]);
    assert.equal(c.requests.length, 0);
    assert.equal(c.problems.length, 2);
    assert.match(c.problems.join('\n'), /no lock file, assets file/);
    assert.match(c.problems.join('\n'), /not valid JSON/);
  });
});
