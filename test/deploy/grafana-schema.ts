// Type helpers that let tsc check a dashboard JSON file against @grafana/schema (see dashboard-types.ts).

/** Literal unions and enums → their primitive (imported JSON has plain strings and numbers); recursive. */
export type Widen<T> = T extends string
  ? string
  : T extends number
    ? number
    : T extends boolean
      ? boolean
      : T extends ReadonlyArray<infer U>
        ? Array<Widen<U>>
        : T extends object
          ? { [K in keyof T]: Widen<T[K]> }
          : T;

type KeysOf<T> = T extends unknown ? keyof T : never;
type ValueAt<T, K extends PropertyKey> = T extends unknown ? (K extends keyof T ? T[K] : never) : never;

/**
 * `Actual` with every key the schema does not know (in any member of a union) mapped to `never`, so a
 * misspelled field name fails to compile. Open records (Record<string, unknown>) and `unknown` values
 * (a query target's fields) accept anything.
 */
export type NoUnknownKeys<Actual, Schema> = unknown extends Schema
  ? Actual
  : Actual extends ReadonlyArray<infer A>
    ? Array<NoUnknownKeys<A, Schema extends ReadonlyArray<infer S> ? S : never>>
    : Actual extends object
      ? { [K in keyof Actual]: K extends KeysOf<NonNullable<Schema>> ? NoUnknownKeys<Actual[K], ValueAt<NonNullable<Schema>, K>> : never }
      : Actual;
