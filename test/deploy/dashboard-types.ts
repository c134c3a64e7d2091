// Compile-time check of grafana/dashboards/nuget-proxy.json against @grafana/schema's Dashboard type,
// run by grafana.test.ts (tsc -p test/deploy/tsconfig.dashboard.json) and by `npm run typecheck`.
// Imported JSON has plain string/number types where the schema has literal unions and enums, so those
// are widened; structure, field types, required fields and every key name are still checked.

import type { Dashboard } from '@grafana/schema';
import json from '../../grafana/dashboards/nuget-proxy.json' with { type: 'json' };
import type { NoUnknownKeys, Widen } from './grafana-schema.ts';

export const dashboard: Widen<Dashboard> = json;
export const knownKeysOnly: NoUnknownKeys<typeof json, Dashboard> = json;
