// Slow readers in a process of their own (see runSlowClientsApart): reads its options as JSON from argv,
// prints the result as JSON on stdout.

import { runSlowClients, type SlowClientsOptions } from './slow-clients.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as SlowClientsOptions;
process.stdout.write(`${JSON.stringify(await runSlowClients(options))}\n`);
process.exit(0);
