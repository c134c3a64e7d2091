// `npm run bench -- <name>...`: runs benchmarks (all by default) and prints their tables on stdout
// (progress goes to stderr). Shared harness code lives in bench/lib/.

const BENCHES: Record<string, { about: string; load: () => Promise<{ run: () => Promise<string> }> }> = {
  'vs-nginx': { about: 'warm hit path against nginx proxy_cache (wrk; needs wrk, nginx-light)', load: () => import('./vs-nginx.ts') },
  restore: { about: 'dotnet restore of ≥ 100 packages: direct, through the proxy cold and warm, and through nginx on the fake feed (needs dotnet, nginx-light)', load: () => import('./restore.ts') },
  'rewrite-latency': { about: 'small-request p99 while 5–10 MB registration documents are rewritten (wrk)', load: () => import('./rewrite-latency.ts') },
  'slow-clients': { about: 'RSS and /healthz latency while 1,000 clients read a 40 MB package at 100 KB/s', load: () => import('./slow-clients.ts') },
  'blob-memory': { about: 'peak RSS while filling and serving 1–256 MB packages', load: () => import('./blob-memory.ts') },
  bundle: { about: 'prefetch, export and import throughput', load: () => import('./bundle.ts') },
  retention: { about: 'retention sweep throughput (evictions/s) on disk and S3', load: () => import('./retention.ts') },
  'web-page': { about: 'web page render times with 50,000 cached versions', load: () => import('./web-page.ts') },
  soak: { about: 'bounded soak (~5 min): mixed load and upstream fault phases; RSS, fds, files and errors over time', load: () => import('./soak.ts') },
};

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(`usage: npm run bench -- [name...]\n\n${Object.entries(BENCHES).map(([name, b]) => `  ${name.padEnd(16)}${b.about}`).join('\n')}`);
  process.exit(0);
}
const names = args.length > 0 ? args : Object.keys(BENCHES);
for (const name of names) {
  if (!BENCHES[name]) {
    console.error(`unknown benchmark '${name}'; known: ${Object.keys(BENCHES).join(', ')}`);
    process.exit(2);
  }
}
let failed = false;
for (const name of names) {
  console.error(`bench ${name}`);
  try {
    console.log(await (await (BENCHES[name] as (typeof BENCHES)[string]).load()).run());
    console.log('');
  } catch (err) {
    failed = true;
    console.error(`bench ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}
process.exit(failed ? 1 : 0);
