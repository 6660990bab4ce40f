/** camelCase in the SDK, snake_case on the wire: key conversion, at runtime and in types. */

type SnakeToCamel<S extends string> = S extends `${infer H}_${infer T}` ? `${H}${Capitalize<SnakeToCamel<T>>}` : S;
type CamelToSnake<S extends string> = S extends `${infer H}${infer T}`
  ? `${H extends Lowercase<H> ? H : `_${Lowercase<H>}`}${CamelToSnake<T>}`
  : S;

/** `T` with every object key camelCased, deeply. */
export type Camel<T> = T extends (infer U)[]
  ? Camel<U>[]
  : T extends object
    ? { [K in keyof T as K extends string ? SnakeToCamel<K> : K]: Camel<T[K]> }
    : T;

/** `T` with every object key snake_cased, deeply. */
export type Snake<T> = T extends (infer U)[]
  ? Snake<U>[]
  : T extends object
    ? { [K in keyof T as K extends string ? CamelToSnake<K> : K]: Snake<T[K]> }
    : T;

const toCamel = (k: string): string => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const toSnake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function convert(value: unknown, key: (k: string) => string): unknown {
  if (Array.isArray(value)) return value.map((v) => convert(v, key));
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) out[key(k)] = convert(v, key);
    }
    return out;
  }
  return value;
}

/** Wire JSON to SDK objects. */
export const camelize = <T>(value: unknown): T => convert(value, toCamel) as T;
/** SDK objects to wire JSON (undefined fields dropped). */
export const snakeize = (value: unknown): unknown => convert(value, toSnake);
