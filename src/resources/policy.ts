// The policy at the door: gathers what a decision needs — published dates from the registration of the
// upstream a version comes from (cached copies offline), advisories from the mirrored VulnerabilityInfo
// data — and applies src/policy/rules.ts to version lists (hidden versions are simply absent) and to
// downloads (403 with a one-line reason). Each decision is a log line and a metric labelled by rule.

import { PolicyRefused } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { parseVersion, type NuGetVersion } from '../nuget/identity.ts';
import { rangeContains } from '../nuget/version-range.ts';
import type { Decision, Policy, PolicyRule } from '../policy/rules.ts';
import type { Feed, Feeds } from './feeds.ts';
import type { RegistrationDocs } from './registration-docs.ts';
import { leafPublished } from './registration-docs.ts';
import type { RequestContext } from './types.ts';
import type { AdvisoryEntry } from './vulnerability.ts';

export interface VersionCandidate {
  readonly lowerVersion: string;
  readonly version: NuGetVersion;
  /** The upstream the version comes from; null when unknown (held packages offline). */
  readonly feed: Feed | null;
  /** When the caller knows it already (registration leaves); undefined: look it up. */
  readonly published?: Date | null;
}

export interface AdvisorySource {
  /** Every mirrored advisory for `lowerId` (all upstreams' vulnerability data, as NuGetAudit reads it). */
  advisoriesFor(lowerId: string): Promise<readonly AdvisoryEntry[]>;
}

/** Versions named in one warning; the rest are counted. */
const WARNING_VERSIONS = 4;

/** Decisions remembered for the web page (what the policy last said about a version). */
const REMEMBERED_DECISIONS = 4096;

export class PolicyGate {
  private readonly now: () => number;
  private readonly remembered = new Map<string, Decision | null>();

  constructor(
    private readonly deps: {
      readonly policy: Policy;
      readonly feeds: Feeds;
      readonly registration: RegistrationDocs;
      readonly advisories: AdvisorySource;
      readonly metrics: Metrics;
      readonly log: Logger;
      readonly now?: () => number;
    },
  ) {
    this.now = deps.now ?? Date.now;
  }

  /** Published dates of `lowerId`'s versions from the registration of `feed` (null entries: unknown). */
  private async publishedFrom(feed: Feed, lowerId: string): Promise<Map<string, Date | null>> {
    const out = new Map<string, Date | null>();
    try {
      const r = await this.deps.registration.leaves(feed, 'semver2', lowerId);
      for (const [v, leaf] of r?.leaves ?? []) out.set(v, leafPublished(leaf));
    } catch (err) {
      this.deps.log.warn({ upstream: feed.name, lowerId, err: (err as Error).message }, 'policy: no published dates (registration unavailable); young-version rule fails closed');
    }
    return out;
  }

  /** The decision for every candidate that a rule applies to. */
  async decide(lowerId: string, candidates: readonly VersionCandidate[]): Promise<Map<string, Decision>> {
    const { policy, feeds } = this.deps;
    const published = new Map<string, Date | null>();
    if (policy.needsPublished(lowerId)) {
      const byFeed = new Map<string, Map<string, Date | null>>();
      const lookup = async (feed: Feed) => {
        let m = byFeed.get(feed.name);
        if (!m) {
          m = await this.publishedFrom(feed, lowerId);
          byFeed.set(feed.name, m);
        }
        return m;
      };
      for (const c of candidates) {
        if (c.published !== undefined) {
          published.set(c.lowerVersion, c.published);
          continue;
        }
        // Unknown source (held offline): the first routed upstream whose registration knows the version.
        for (const feed of c.feed ? [c.feed] : feeds.route(lowerId)) {
          const d = (await lookup(feed)).get(c.lowerVersion);
          if (d !== undefined) {
            published.set(c.lowerVersion, d);
            break;
          }
        }
      }
    }
    const advisories = policy.needsAdvisories(lowerId) ? await this.deps.advisories.advisoriesFor(lowerId) : [];
    const now = this.now();
    const out = new Map<string, Decision>();
    for (const c of candidates) {
      const d = policy.decide(
        {
          lowerId,
          version: c.version,
          published: published.get(c.lowerVersion) ?? null,
          advisories: advisories.filter((a) => rangeContains(a.range, c.version)),
        },
        now,
      );
      if (d) out.set(c.lowerVersion, d);
      this.remember(lowerId, c.lowerVersion, d);
    }
    return out;
  }

  private remember(lowerId: string, lowerVersion: string, d: Decision | null): void {
    const key = `${lowerId}/${lowerVersion}`;
    this.remembered.delete(key);
    if (this.remembered.size >= REMEMBERED_DECISIONS) {
      const oldest = this.remembered.keys().next().value;
      if (oldest !== undefined) this.remembered.delete(oldest);
    }
    this.remembered.set(key, d);
  }

  /** What the policy last decided about a version (undefined: not judged yet; null: nothing applies). */
  lastDecision(lowerId: string, lowerVersion: string): Decision | null | undefined {
    return this.remembered.get(`${lowerId}/${lowerVersion}`);
  }

  private record(lowerId: string, action: 'hide' | 'refuse', decisions: ReadonlyArray<[string, Decision]>, rc?: RequestContext): void {
    const byRule = new Map<PolicyRule, string[]>();
    for (const [v, d] of decisions) {
      this.deps.metrics.policyDecisions.inc({ rule: d.rule, action });
      const list = byRule.get(d.rule) ?? [];
      list.push(v);
      byRule.set(d.rule, list);
    }
    const log = rc?.log ?? this.deps.log;
    for (const [rule, versions] of byRule) {
      const first = decisions.find(([, d]) => d.rule === rule)?.[1];
      log.info({ rule, action, lowerId, versions: versions.slice(0, 50), count: versions.length, reason: first?.reason }, 'policy decision');
    }
  }

  /** Whether no version of `lowerId` can ever be shown (autocomplete leaves such ids out). */
  idHidden(lowerId: string): boolean {
    return this.deps.policy.idHidden(lowerId);
  }

  /** The candidates a client may see, and one warning line naming what was hidden and why. */
  async visibleVersions(lowerId: string, candidates: readonly VersionCandidate[], rc: RequestContext): Promise<{ versions: string[]; warnings: string[] }> {
    const decisions = await this.decide(lowerId, candidates);
    const hidden = [...decisions.entries()].filter(([, d]) => d.hide);
    const versions = candidates.filter((c) => !decisions.get(c.lowerVersion)?.hide).map((c) => c.lowerVersion);
    if (hidden.length === 0) return { versions, warnings: [] };
    this.record(lowerId, 'hide', hidden, rc);
    const named = hidden.slice(-WARNING_VERSIONS).map(([, d]) => d.reason);
    const more = hidden.length > named.length ? ` (and ${hidden.length - named.length} more)` : '';
    return { versions, warnings: [`nuget-proxy policy hid ${hidden.length} version(s) of ${lowerId}${more}: ${named.join('; ')}`] };
  }

  /** Throws PolicyRefused (403) when a download of this version is refused. */
  async checkDownload(lowerId: string, lowerVersion: string): Promise<void> {
    const version = parseVersion(lowerVersion);
    if (!version) return;
    const route = this.deps.feeds.route(lowerId);
    const d = (await this.decide(lowerId, [{ lowerVersion, version, feed: route.length === 1 ? (route[0] ?? null) : null }])).get(lowerVersion);
    if (!d?.refuse) return;
    this.record(lowerId, 'refuse', [[lowerVersion, d]]);
    throw new PolicyRefused(d.reason);
  }
}
