// The upstreams and the routing between them: each upstream ("feed") with its own transport, breaker,
// document cache and layout; and which feeds a package id may come from — NuGet's packageSourceMapping
// rules (src/nuget/source-mapping.ts), or every feed in order when there is no mapping. An id mapped to
// some feeds is never asked of another one, for anything.

import type { CircuitBreaker } from '../breaker.ts';
import type { UpstreamSpec } from '../config.ts';
import { NotFound } from '../errors.ts';
import { PackageSourceMapping } from '../nuget/source-mapping.ts';
import type { UpstreamTransport } from '../upstream.ts';
import type { DocumentCache } from './documents.ts';
import type { UpstreamIndex } from './upstream-index.ts';

export interface Feed {
  readonly name: string;
  readonly spec: UpstreamSpec;
  /** null offline: nothing is ever fetched. */
  readonly transport: UpstreamTransport | null;
  readonly breaker: CircuitBreaker;
  readonly docs: DocumentCache;
  readonly index: UpstreamIndex;
}

export class Feeds {
  private readonly mapping: PackageSourceMapping | null;
  private readonly routes = new Map<string, readonly Feed[]>();

  constructor(
    readonly all: readonly Feed[],
    mapping: ReadonlyArray<readonly [string, readonly string[]]> | null,
  ) {
    if (all.length === 0) throw new Error('at least one upstream is needed');
    this.mapping = mapping ? new PackageSourceMapping(mapping) : null;
  }

  /** One upstream: documents pass through as upstream wrote them (rewritten), as before several existed. */
  get single(): boolean {
    return this.all.length === 1;
  }

  get first(): Feed {
    return this.all[0] as Feed;
  }

  byName(name: string): Feed | undefined {
    return this.all.find((f) => f.name === name);
  }

  /** The feeds `lowerId` may come from, in configuration order; [] when the mapping covers it nowhere. */
  route(lowerId: string): readonly Feed[] {
    let r = this.routes.get(lowerId);
    if (!r) {
      const names = this.mapping ? new Set(this.mapping.sourcesFor(lowerId)) : null;
      r = names ? this.all.filter((f) => names.has(f.name)) : this.all;
      if (this.routes.size > 100_000) this.routes.clear();
      this.routes.set(lowerId, r);
    }
    return r;
  }

  /** Like route(), but a 404 naming the mapping when no feed serves the id (NuGet: "not found"). */
  requireRoute(lowerId: string): readonly Feed[] {
    const r = this.route(lowerId);
    if (r.length === 0) throw new NotFound(`'${lowerId}' matches no pattern of packageSourceMapping, so no upstream serves it`);
    return r;
  }

  /** Whether a package held in the cache with this source marker may be served for `lowerId` now. */
  mayServe(lowerId: string, source: string | null): boolean {
    // One upstream: everything the cache holds is its own (also copies from before source markers existed).
    if (this.single) return this.route(lowerId).length > 0;
    return source !== null && this.route(lowerId).some((f) => f.name === source);
  }

  close(): void {
    for (const f of this.all) f.transport?.close();
  }
}
