// What `prefetch` fetches so that an offline proxy answers as an online one would — through the same
// resources `serve` uses, so routing and policy hold — and the metadata keys that then hold it (the
// selection a bundle carries): per package id, the version lists and every registration hive (with its
// separate pages) of each upstream the id routes to; per proxy, each upstream's service index,
// vulnerability data and repository signatures.

import { errorMessage } from '../errors.ts';
import { registrationRelativePath } from '../nuget/paths.ts';
import type { Feeds } from './feeds.ts';
import { registrationKey, serviceIndexKey, signaturesKey, versionsKey } from './keys.ts';
import type { RegistrationDocs } from './registration-docs.ts';
import { separatePagesOf } from './registration-docs.ts';
import type { SignaturesResource } from './signatures.ts';
import type { RequestContext } from './types.ts';
import type { VulnerabilityResource } from './vulnerability.ts';

export interface MirrorResult {
  readonly keys: string[];
  readonly warnings: string[];
  readonly failures: Array<{ subject: string; reason: string }>;
}

export class Mirror {
  constructor(
    private readonly deps: {
      readonly feeds: Feeds;
      readonly registration: RegistrationDocs;
      readonly vulnerability: VulnerabilityResource;
      readonly signatures: SignaturesResource;
    },
  ) {}

  /**
   * Every registration document of `lowerId` on the upstreams it routes to (each hive an upstream has; a
   * SemVer 1 hive without the id is normal), and the keys of the id's stored metadata, version lists included.
   */
  async id(lowerId: string): Promise<MirrorResult> {
    const out: MirrorResult = { keys: [], warnings: [], failures: [] };
    for (const feed of this.deps.feeds.route(lowerId)) {
      if ((await feed.docs.peek(versionsKey(feed.name, lowerId)))?.status === 200) out.keys.push(versionsKey(feed.name, lowerId));
      let layout;
      try {
        layout = await feed.index.requireLayout();
      } catch (err) {
        out.failures.push({ subject: `upstream ${feed.name}`, reason: errorMessage(err) });
        continue;
      }
      for (const hive of layout.hives.keys()) {
        try {
          const index = await this.deps.registration.get(feed, layout, hive, { kind: 'index', lowerId });
          if (index.warning) out.warnings.push(index.warning);
          if (index.entry.status !== 200) continue;
          out.keys.push(registrationKey(feed.name, hive, `${lowerId}/index.json`));
          // The index fill fetched its separate pages; asking again (a cache hit) confirms each is stored.
          for (const page of separatePagesOf(hive, index.entry.extra?.['separatePages'])) {
            const doc = await this.deps.registration.get(feed, layout, hive, page);
            if (doc.entry.status === 200) out.keys.push(registrationKey(feed.name, hive, registrationRelativePath(page)));
          }
        } catch (err) {
          out.failures.push({ subject: `registration ${feed.name}/${hive}/${lowerId}`, reason: errorMessage(err) });
        }
      }
    }
    return out;
  }

  /** Each upstream's service index, vulnerability index and pages, and (one upstream) repository signatures. */
  async feeds(rc: RequestContext): Promise<MirrorResult> {
    const out: MirrorResult = { keys: [], warnings: [], failures: [] };
    const { feeds } = this.deps;
    for (const feed of feeds.all) {
      try {
        const { warning } = await feed.index.fetchWithWarning();
        if (warning) out.warnings.push(warning);
        if (feed.spec.kind === 'feed') out.keys.push(serviceIndexKey(feed.name));
      } catch (err) {
        out.failures.push({ subject: `upstream ${feed.name}`, reason: `cannot read the service index: ${errorMessage(err)}` });
      }
    }
    const vulnerability = await this.deps.vulnerability.mirror();
    out.keys.push(...vulnerability.keys);
    out.failures.push(...vulnerability.failures);
    if (feeds.single) {
      const layout = await feeds.first.index.layout().catch(() => null);
      for (const version of layout?.signatures.keys() ?? []) {
        try {
          const reply = await this.deps.signatures.serve(version, { ...rc, https: true });
          out.warnings.push(...(reply.warnings ?? []));
          out.keys.push(signaturesKey(feeds.first.name, version));
        } catch (err) {
          out.failures.push({ subject: `repository signatures ${version}`, reason: errorMessage(err) });
        }
      }
    }
    return out;
  }
}
