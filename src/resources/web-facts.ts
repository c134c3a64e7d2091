// What the web page shows about the upstreams and the policy (resources/web-page.ts asks through WebFacts):
// each upstream with its breaker per host, the upstream a held version came from (its source marker), and
// what the policy last decided about a version. Reads only what is at hand — memory and cached markers —
// so the page never asks an upstream anything.

import { DEFAULT_UPSTREAM_NAME } from '../config.ts';
import type { Feed, Feeds } from './feeds.ts';
import type { LocalPackages } from './local-packages.ts';
import type { PolicyGate } from './policy.ts';
import type { UpstreamHostStatus, WebFacts } from './web-page.ts';

const RULE_LABELS: Record<string, string> = {
  deny: 'denied',
  allow: 'not on the allow list',
  min_release_age: 'too young',
  vulnerability: 'vulnerable',
};

/** The one upstream of a flags-only configuration is shown by its host, as before upstreams had names. */
function displayName(feed: Feed): string {
  return feed.name === DEFAULT_UPSTREAM_NAME && feed.spec.kind === 'feed' ? new URL(feed.spec.url).host : feed.name;
}

export function feedFacts(deps: { readonly offline: boolean; readonly feeds: Feeds; readonly local: LocalPackages; readonly policy: PolicyGate | null }): WebFacts {
  const { feeds, local, policy } = deps;
  return {
    upstreams() {
      if (deps.offline) return [];
      return feeds.all.map((feed) => {
        const hosts: UpstreamHostStatus[] = Object.entries(feed.breaker.snapshot()).map(([host, s]) => ({ host, ...s }));
        if (feed.spec.kind === 'feed') {
          const own = new URL(feed.spec.url).host;
          if (!hosts.some((h) => h.host === own)) hosts.unshift({ host: own, state: 'closed', consecutiveFailures: 0, backoffMs: 0, slow: false });
        }
        return { name: displayName(feed), source: feed.spec.kind === 'feed' ? feed.spec.url : feed.spec.folder, hosts };
      });
    },
    upstreamOf(lowerId, lowerVersion) {
      if (feeds.single) return deps.offline ? null : displayName(feeds.first);
      const source = local.knownSource(lowerId, lowerVersion);
      const feed = source ? feeds.byName(source) : undefined;
      return feed ? displayName(feed) : (source ?? null);
    },
    policyOf(lowerId, lowerVersion) {
      const d = policy?.lastDecision(lowerId, lowerVersion);
      return d ? { label: RULE_LABELS[d.rule] ?? d.rule, blocked: d.hide || d.refuse } : null;
    },
  };
}
