// The routing rules are NuGet's own: every case of the mapping table is run through NuGet.Client's
// PackageSourceMapping (NuGet.Configuration.dll from the installed .NET SDK, compiled into a tiny console
// program) and through src/nuget/source-mapping.ts; both must give the same sources for every id.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { PackageSourceMapping } from '../../src/nuget/source-mapping.ts';
import { dotnet, freshClientState } from '../helpers/clients.ts';
import { makeTempDir } from '../helpers/proxy.ts';
import { MAPPING_CASES } from '../helpers/source-mapping-cases.ts';

const PROGRAM = `using System; using System.Collections.Generic; using System.IO; using System.Linq; using System.Text.Json;
using NuGet.Configuration;
var cases = JsonSerializer.Deserialize<List<Case>>(File.ReadAllText(args[0]));
var results = new List<List<string[]>>();
foreach (var c in cases) {
  var patterns = new Dictionary<string, IReadOnlyList<string>>();
  foreach (var pair in c.mapping) patterns.Add(pair.source, pair.patterns);
  var mapping = new PackageSourceMapping(patterns);
  results.Add(c.ids.Select(id => (mapping.GetConfiguredPackageSources(id) ?? new List<string>()).ToArray()).ToList());
}
File.WriteAllText(args[1], JsonSerializer.Serialize(results));
record Pair(string source, List<string> patterns);
record Case(List<Pair> mapping, List<string> ids);
`;

async function nugetConfigurationDll(state: Awaited<ReturnType<typeof freshClientState>>): Promise<string> {
  const r = await dotnet(['--list-sdks'], '/', state, 60_000);
  const lines = r.stdout.trim().split('\n').filter(Boolean);
  const last = lines[lines.length - 1] ?? '';
  const m = /^(\S+) \[(.+)\]$/.exec(last.trim());
  assert.ok(m?.[1] && m[2], `cannot read 'dotnet --list-sdks': ${r.stdout}`);
  const dll = join(m[2], m[1], 'NuGet.Configuration.dll');
  assert.ok(existsSync(dll), `${dll} not found`);
  return dll;
}

test("NuGet's own PackageSourceMapping agrees with ours on every case", { timeout: 300_000 }, async () => {
  const dir = await makeTempDir('psm');
  const state = await freshClientState();
  const dll = await nugetConfigurationDll(state);
  await mkdir(join(dir, 'app'), { recursive: true });
  await writeFile(
    join(dir, 'app', 'app.csproj'),
    `<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><Nullable>disable</Nullable></PropertyGroup>
  <ItemGroup><Reference Include="${dll}" /></ItemGroup>
</Project>
`,
  );
  await writeFile(join(dir, 'app', 'Program.cs'), PROGRAM);
  await writeFile(join(dir, 'app', 'nuget.config'), '<?xml version="1.0" encoding="utf-8"?><configuration><packageSources><clear /></packageSources></configuration>\n');
  const input = MAPPING_CASES.map((c) => ({ mapping: c.mapping.map(([source, patterns]) => ({ source, patterns })), ids: Object.keys(c.expect) }));
  await writeFile(join(dir, 'cases.json'), JSON.stringify(input));
  const run = await dotnet(['run', '--', join(dir, 'cases.json'), join(dir, 'out.json')], join(dir, 'app'), state, 280_000);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const theirs = JSON.parse(await readFile(join(dir, 'out.json'), 'utf8')) as string[][][];
  let compared = 0;
  MAPPING_CASES.forEach((c, i) => {
    const ours = new PackageSourceMapping(c.mapping);
    Object.keys(c.expect).forEach((id, j) => {
      assert.deepEqual([...ours.sourcesFor(id)], theirs[i]?.[j], `${c.name}: ${id}`);
      assert.deepEqual(theirs[i]?.[j], c.expect[id], `${c.name}: NuGet vs the table for ${id}`);
      compared++;
    });
  });
  assert.ok(compared >= 40, `compared ${compared} ids`);
});
