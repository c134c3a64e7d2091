// The foundation, end to end with the real `dotnet` client, on the default store (the cache directory):
// restore a real project through the proxy cold, warm, and with the upstream stopped; every package
// byte-identical to upstream's. (The S3 run of the same scenario: dotnet-restore-s3.test.ts.)

import { startProxy } from '../helpers/proxy.ts';
import { runRestoreScenario } from './restore-scenario.ts';

runRestoreScenario({
  store: 'disk',
  startProxy: (upstream) => startProxy({ NUGET_PROXY_UPSTREAM: upstream }),
});
