// Package Source Mapping cases, table-driven, from NuGet's docs (consume-packages/Package-Source-Mapping.md)
// and its design (NuGet/Home implemented/2021/PackageSourceMapping.md, scenarios 1A–1G). Shared by the unit
// test and the test that runs the same table through NuGet's own NuGet.Configuration.dll.

export interface MappingCase {
  readonly name: string;
  /** Source → patterns, in declaration order. */
  readonly mapping: ReadonlyArray<readonly [string, readonly string[]]>;
  /** Package id → the sources it may come from (declaration order); [] = not found. */
  readonly expect: Readonly<Record<string, readonly string[]>>;
}

export const MAPPING_CASES: readonly MappingCase[] = [
  {
    name: 'docs example: Contoso.* and NuGet.Common from contoso.com, the rest from nuget.org',
    mapping: [
      ['nuget.org', ['*']],
      ['contoso.com', ['Contoso.*', 'NuGet.Common']],
    ],
    expect: {
      'Contoso.Core': ['contoso.com'],
      'NuGet.Common': ['contoso.com'],
      'NuGet.Commands': ['nuget.org'],
      'Newtonsoft.Json': ['nuget.org'],
      contoso: ['nuget.org'],
      'Contoso.': ['contoso.com'],
    },
  },
  {
    name: 'docs precedence: NuGet.Common over NuGet.* over *',
    mapping: [
      ['a', ['*']],
      ['b', ['NuGet.*']],
      ['c', ['NuGet.Common']],
    ],
    expect: { 'NuGet.Common': ['c'], 'NuGet.Commands': ['b'], 'NuGet.Common.Extra': ['b'], Other: ['a'] },
  },
  {
    name: 'scenario 1A: each prefix to its source, dependencies included',
    mapping: [
      ['nuget.org', ['NuGet.*']],
      ['contoso', ['Microsoft.*']],
    ],
    expect: { 'NuGet.A': ['nuget.org'], 'Microsoft.C': ['contoso'], 'Microsoft.B': ['contoso'] },
  },
  {
    name: 'scenario 1B: an exact id beats a prefix; a longer prefix beats a shorter one',
    mapping: [
      ['nuget.org', ['NuGet.*', 'Microsoft.B']],
      ['contoso', ['Microsoft.*', 'NuGet.Internal.*']],
    ],
    expect: { 'NuGet.A': ['nuget.org'], 'Microsoft.C': ['contoso'], 'Microsoft.B': ['nuget.org'], 'NuGet.Internal.D': ['contoso'] },
  },
  {
    name: 'scenario 1C: an id no pattern covers is found nowhere',
    mapping: [
      ['nuget.org', ['NuGet.*']],
      ['contoso', ['Microsoft.*']],
    ],
    expect: { A: [], 'Microsoft.C': ['contoso'] },
  },
  {
    name: 'scenario 1D: a source without patterns serves nothing',
    mapping: [
      ['nuget.org', ['NuGet.*']],
      ['contoso', []],
    ],
    expect: { 'NuGet.A': ['nuget.org'], 'Microsoft.B': [], 'Microsoft.C': [] },
  },
  {
    name: 'scenario 1E: the same pattern on two sources allows both',
    mapping: [
      ['nuget.org', ['NuGet.*', 'Microsoft.*']],
      ['contoso', ['Microsoft.*']],
    ],
    expect: { 'NuGet.A': ['nuget.org'], 'Microsoft.C': ['nuget.org', 'contoso'], 'Microsoft.B': ['nuget.org', 'contoso'] },
  },
  {
    name: 'scenario 1F: the longest matching prefix wins, ties allow every source declaring it',
    mapping: [
      ['nuget.org', ['Microsoft.Community.*']],
      ['contoso', ['Microsoft.Community.*', 'Microsoft.*']],
    ],
    expect: { 'Microsoft.A': ['contoso'], 'Microsoft.Community.B': ['nuget.org', 'contoso'] },
  },
  {
    name: 'scenario 1G: prefixes need no dot; * is the fallback',
    mapping: [
      ['nuget.org', ['NuGet*']],
      ['contoso', ['*']],
    ],
    expect: { NuGetA: ['nuget.org'], NuGet: ['nuget.org'], 'NuGet.Bar': ['nuget.org'], 'Microsoft.B': ['contoso'], Nu: ['contoso'] },
  },
  {
    name: 'ids and patterns are case-insensitive',
    mapping: [
      ['internal', ['CONTOSO.*', 'special.ID']],
      ['public', ['*']],
    ],
    expect: { 'contoso.core': ['internal'], 'Contoso.Core': ['internal'], 'SPECIAL.id': ['internal'], 'Special.Id2': ['public'] },
  },
  {
    name: 'NuGet keeps an exact id and the same text as a prefix on one node (both sources match both)',
    mapping: [
      ['a', ['Contoso.Core']],
      ['b', ['Contoso.Core*', '*']],
    ],
    expect: { 'Contoso.Core': ['a', 'b'], 'Contoso.Core.X': ['a', 'b'], 'Contoso.Cor': ['b'], Other: ['b'] },
  },
  {
    name: 'an exact id with no prefix on the way falls back to the shorter prefix',
    mapping: [
      ['a', ['Contoso.Core.Extra']],
      ['b', ['Contoso.*']],
    ],
    expect: { 'Contoso.Core': ['b'], 'Contoso.Core.Extra': ['a'], 'Contoso.Core.Extras': ['b'] },
  },
  {
    name: 'the issue example: internal Contoso.*, share Local.*, public everything else',
    mapping: [
      ['internal', ['Contoso.*']],
      ['share', ['Local.*']],
      ['public', ['*']],
    ],
    expect: { 'Contoso.Core': ['internal'], 'Local.Tools': ['share'], xunit: ['public'] },
  },
];
