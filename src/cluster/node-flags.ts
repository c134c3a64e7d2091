// The V8 settings a serving process runs with. They must be on node's command line (V8 sizes its heap as
// the process starts, and NODE_OPTIONS refuses these), so they are written where node is started — the
// Dockerfile's ENTRYPOINT, package.json's start and dev scripts, the benchmarks' spawnProxy — and given to
// every worker the primary forks. test/unit/node-flags.test.ts keeps those places in step with this list.
//
// --initial-old-space-size=64: with V8's defaults a proxy whose own heap is small (~25 MB) ran a full
// collection every 30-100 ms while it read packages into fresh buffers (a warm restore filling the memory
// tier, or a tier evicting and refilling): memory outside the heap allocated since the last collection
// counts against an old-generation limit sized from the small heap. A 64 MB floor under that limit cut
// those collections from ~20 to ~3 and the proxy's CPU in a replayed warm restore by 30-45 %
// (docs/performance.md). It costs at most that much more garbage before a collection.

export const NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64'];

/** The flag's name (`--initial-old-space-size`), to find it with any value. */
function flagName(flag: string): string {
  const eq = flag.indexOf('=');
  return eq < 0 ? flag : flag.slice(0, eq);
}

/** NODE_FLAGS not on `execArgv` (a value of the operator's own counts as given). */
export function missingNodeFlags(execArgv: readonly string[]): string[] {
  const given = new Set(execArgv.map(flagName));
  return NODE_FLAGS.filter((f) => !given.has(flagName(f)));
}

/** `execArgv` with the NODE_FLAGS it lacks, for a worker's process. */
export function withNodeFlags(execArgv: readonly string[]): string[] {
  return [...execArgv, ...missingNodeFlags(execArgv)];
}
