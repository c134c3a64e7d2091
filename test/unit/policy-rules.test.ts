// Policy decisions (src/policy/rules.ts), table-driven: deny and allow lists with NuGet ranges, minimum
// release age with exemptions and an unknown date, vulnerability severity and action with exemptions by id
// and by advisory URL, the order rules apply in, durations.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseVersion } from '../../src/nuget/identity.ts';
import { Policy, formatDuration, parseDuration, parseIdRule, parsePolicyConfig, type Advisory, type PolicyConfig } from '../../src/policy/rules.ts';

const NOW = Date.parse('2025-06-15T12:00:00Z');
const DAY = 86_400_000;

function config(p: Partial<PolicyConfig>): PolicyConfig {
  const problems: string[] = [];
  const base = parsePolicyConfig({}, 'policy', problems);
  assert.deepEqual(problems, []);
  return { ...(base as PolicyConfig), ...p };
}

function decide(policy: Policy, id: string, version: string, published: Date | null = new Date(NOW - 365 * DAY), advisories: Advisory[] = []) {
  const v = parseVersion(version);
  assert.ok(v);
  return policy.decide({ lowerId: id.toLowerCase(), version: v, published, advisories }, NOW);
}

describe('deny and allow', () => {
  const policy = new Policy(config({ deny: ['Evil.*', 'Some.Package [1.0.0,1.2.0)'], allow: null }));
  const table: Array<[string, string, string | null]> = [
    ['Evil.Thing', '1.0.0', 'deny'],
    ['evil.', '0.1.0', 'deny'],
    ['Evil', '1.0.0', null],
    ['Some.Package', '1.0.0', 'deny'],
    ['Some.Package', '1.1.9', 'deny'],
    ['Some.Package', '1.2.0', null],
    ['Some.Package', '0.9.0', null],
    ['Some.Package.Other', '1.0.0', null],
  ];
  for (const [id, version, rule] of table) {
    it(`${id} ${version} → ${rule ?? 'allowed'}`, () => {
      const d = decide(policy, id, version);
      assert.equal(d?.rule ?? null, rule);
      if (d) {
        assert.ok(d.hide && d.refuse, 'denied versions are hidden and refused');
        assert.match(d.reason, /denied by policy \(deny: /);
      }
    });
  }

  it('idHidden: a deny entry without a range, or an id off the allow list', () => {
    assert.ok(policy.idHidden('evil.thing'));
    assert.ok(!policy.idHidden('some.package'), 'a ranged deny hides only some versions');
    const allowing = new Policy(config({ allow: ['Contoso.*', 'Newtonsoft.Json [13.0.1,)'] }));
    assert.ok(allowing.idHidden('xunit'));
    assert.ok(!allowing.idHidden('newtonsoft.json'));
  });

  it('an allow list permits only what it matches; deny wins over allow', () => {
    const p = new Policy(config({ deny: ['Contoso.Bad'], allow: ['Contoso.*', 'Newtonsoft.Json [13.0.1,)'] }));
    assert.equal(decide(p, 'Contoso.Core', '1.0.0'), null);
    assert.equal(decide(p, 'Newtonsoft.Json', '13.0.3'), null);
    assert.equal(decide(p, 'Newtonsoft.Json', '12.0.3')?.rule, 'allow');
    assert.equal(decide(p, 'xunit', '2.9.3')?.rule, 'allow');
    assert.equal(decide(p, 'Contoso.Bad', '1.0.0')?.rule, 'deny');
  });
});

describe('minimum release age', () => {
  const refuse = new Policy(config({ minReleaseAgeMs: 7 * DAY, minReleaseAgeExempt: ['Contoso.*'], youngPinned: 'refuse' }));
  const allow = new Policy(config({ minReleaseAgeMs: 7 * DAY, youngPinned: 'allow' }));
  const table: Array<[string, number | null, boolean]> = [
    ['published 30 days ago', 30, false],
    ['published exactly 7 days ago', 7, false],
    ['published 6 days ago', 6, true],
    ['published an hour ago', 1 / 24, true],
    ['with no known date (fails closed)', null, true],
  ];
  for (const [name, daysAgo, hidden] of table) {
    it(`${name}: ${hidden ? 'hidden' : 'visible'}`, () => {
      const published = daysAgo === null ? null : new Date(NOW - daysAgo * DAY);
      const d = decide(refuse, 'Young.Lib', '1.2.0', published);
      assert.equal(d !== null, hidden);
      if (d) {
        assert.equal(d.rule, 'min_release_age');
        assert.ok(d.hide);
        assert.ok(d.refuse, 'youngPinned: refuse');
        assert.equal(decide(allow, 'Young.Lib', '1.2.0', published)?.refuse, false, 'youngPinned: allow');
      }
    });
  }

  it('names the age and the requirement in the reason', () => {
    assert.equal(decide(refuse, 'Young.Lib', '1.2.0', new Date(NOW - 3 * 3_600_000))?.reason, 'young.lib 1.2.0 was published 3 h ago; policy requires 7 d (min release age)');
  });

  it('exempts matching ids; unlisted versions (published 1900) are old', () => {
    assert.equal(decide(refuse, 'Contoso.Core', '1.0.0', new Date(NOW - 60_000)), null);
    assert.equal(decide(refuse, 'Young.Lib', '1.0.0', new Date('1900-01-01T00:00:00Z')), null);
  });
});

describe('vulnerabilities', () => {
  const high = { url: 'https://github.com/advisories/GHSA-high', severity: 2 };
  const moderate = { url: 'https://github.com/advisories/GHSA-moderate', severity: 1 };
  const critical = { url: 'https://github.com/advisories/GHSA-critical', severity: 3 };
  const refuse = new Policy(config({ vulnerabilities: { minSeverity: 2, action: 'refuse', exempt: ['Legacy.*', 'https://github.com/advisories/GHSA-critical'] } }));
  const hide = new Policy(config({ vulnerabilities: { minSeverity: 2, action: 'hide', exempt: [] } }));
  const table: Array<[string, string, Advisory[], 'refuse' | 'hide' | null]> = [
    ['a high advisory', 'Vuln.Lib', [high], 'refuse'],
    ['a moderate advisory only (below the threshold)', 'Vuln.Lib', [moderate], null],
    ['no advisory', 'Vuln.Lib', [], null],
    ['an exempt id', 'Legacy.Thing', [high], null],
    ['an exempt advisory URL', 'Vuln.Lib', [critical], null],
    ['an exempt and a counted advisory', 'Vuln.Lib', [critical, high], 'refuse'],
  ];
  for (const [name, id, advisories, action] of table) {
    it(`${name} → ${action ?? 'allowed'}`, () => {
      const d = decide(refuse, id, '1.0.0', undefined, advisories);
      assert.equal(d ? (d.refuse ? 'refuse' : 'hide') : null, action);
      if (d) {
        assert.equal(d.rule, 'vulnerability');
        assert.equal(d.hide, false, 'refuse keeps the version listed so the build fails and says why');
        assert.match(d.reason, /has a high-severity advisory \(https:\/\/github\.com\/advisories\/GHSA-high\); policy refuses high and above/);
      }
    });
  }

  it('action hide: hidden from lists, a pinned download still works', () => {
    const d = decide(hide, 'Vuln.Lib', '1.0.0', undefined, [high]);
    assert.deepEqual([d?.hide, d?.refuse], [true, false]);
  });

  it('applies deny first, then vulnerabilities, then age', () => {
    const p = new Policy(config({ deny: ['Vuln.*'], minReleaseAgeMs: DAY, vulnerabilities: { minSeverity: 0, action: 'refuse', exempt: [] } }));
    assert.equal(decide(p, 'Vuln.Lib', '1.0.0', new Date(NOW), [high])?.rule, 'deny');
    assert.equal(decide(p, 'Other.Lib', '1.0.0', new Date(NOW), [high])?.rule, 'vulnerability');
    assert.equal(decide(p, 'Other.Lib', '1.0.0', new Date(NOW), [])?.rule, 'min_release_age');
  });
});

describe('syntax', () => {
  const durations: Array<[string, number | null]> = [
    ['7d', 7 * DAY],
    ['36h', 36 * 3_600_000],
    ['90m', 90 * 60_000],
    ['2w', 14 * DAY],
    ['1.5d', 1.5 * DAY],
    ['0', 0],
    ['7', null],
    ['soon', null],
    ['-1d', null],
  ];
  for (const [raw, ms] of durations) it(`duration ${raw} → ${ms}`, () => assert.equal(parseDuration(raw), ms));

  it('formats durations for reasons', () => {
    assert.equal(formatDuration(7 * DAY), '7 d');
    assert.equal(formatDuration(36 * 3_600_000), '36 h');
    assert.equal(formatDuration(5 * 60_000), '5 min');
  });

  const rules: Array<[string, boolean]> = [
    ['Evil.*', true],
    ['Some.Package [1.0.0,1.2.0)', true],
    ['Some.Package [1.0.0, 1.2.0)', true],
    ['Some.Package (,2.0.0]', true],
    ['Some.Package 1.*', false],
    ['Some.Package [2.0,1.0]', false],
    ['Bad.*.Pattern', false],
  ];
  for (const [text, ok] of rules) it(`rule ${JSON.stringify(text)} is ${ok ? 'valid' : 'refused'}`, () => assert.equal(typeof parseIdRule(text) !== 'string', ok));
});
