// Narrowing of JSON the types cannot vouch for (error bodies, WebSocket messages, form values)
// by looking at it, never by casting it.

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `value` if it is one of `values` (a generated enum's values), else undefined. */
export function oneOf<T extends string>(values: readonly T[], value: unknown): T | undefined {
  return values.find((v) => v === value);
}
