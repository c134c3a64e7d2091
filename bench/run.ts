// `npm run bench [name...]`: runs the benchmarks (all by default) and prints their tables.

const BENCHES: Record<string, () => Promise<{ run: () => Promise<string> }>> = {
  'rewrite-latency': () => import('./rewrite-latency.ts'),
  bundle: () => import('./bundle.ts'),
  'blob-memory': () => import('./blob-memory.ts'),
  'vs-nginx': () => import('./vs-nginx.ts'),
  'web-page': () => import('./web-page.ts'),
};

const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(BENCHES);
for (const name of names) {
  const load = BENCHES[name];
  if (!load) {
    console.error(`unknown benchmark '${name}'; known: ${Object.keys(BENCHES).join(', ')}`);
    process.exit(2);
  }
  console.log(await (await load()).run());
  console.log('');
}
process.exit(0);
