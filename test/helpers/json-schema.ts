/**
 * A JSON Schema 2020-12 validator for the keywords the OpenAPI document uses (OpenAPI 3.1 schema
 * objects are JSON Schema 2020-12). A keyword it does not know is an error, never silently passed:
 * a test that says "the document rejects this" must mean it.
 */

type Schema = Record<string, unknown> | boolean;

const ANNOTATIONS = new Set([
  'description',
  'title',
  'examples',
  'example',
  'default',
  'deprecated',
  'readOnly',
  'writeOnly',
  'contentMediaType',
  'format',
  '$schema',
  'id',
]);
const KNOWN = new Set([
  ...ANNOTATIONS,
  'type',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'enum',
  'const',
  'anyOf',
  'oneOf',
  'allOf',
  'not',
  '$ref',
]);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

const deepEqual = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Problems with `value` against `schema` (empty when valid); `root` resolves `$ref`s. */
export function validate(
  schema: Schema,
  value: unknown,
  root: Record<string, unknown>,
  path = '$',
): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${path}: not allowed`];
  for (const key of Object.keys(schema))
    if (!KNOWN.has(key)) throw new Error(`unsupported JSON Schema keyword ${key} at ${path}`);
  const s = schema as Record<string, unknown> & { properties?: Record<string, Schema> };
  const problems: string[] = [];
  const fail = (why: string) => problems.push(`${path}: ${why}`);

  if (typeof s.$ref === 'string') {
    const target = s.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>(
        (node, part) =>
          (node as Record<string, unknown>)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')],
        root,
      );
    if (target === undefined) throw new Error(`unresolved $ref ${s.$ref}`);
    problems.push(...validate(target as Schema, value, root, path));
  }
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    const actual = typeOf(value);
    if (!types.some((t) => t === actual || (t === 'number' && actual === 'integer')))
      return [`${path}: expected ${types.join('|')}, got ${actual}`];
  }
  if (s.const !== undefined && !deepEqual(s.const, value))
    fail(`expected ${JSON.stringify(s.const)}`);
  if (Array.isArray(s.enum) && !s.enum.some((e) => deepEqual(e, value)))
    fail(`not one of ${JSON.stringify(s.enum)}`);
  if (typeof value === 'string') {
    const length = [...value].length;
    if (typeof s.minLength === 'number' && length < s.minLength)
      fail(`shorter than ${s.minLength}`);
    if (typeof s.maxLength === 'number' && length > s.maxLength) fail(`longer than ${s.maxLength}`);
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value))
      fail(`does not match ${s.pattern}`);
  }
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) fail(`below ${s.minimum}`);
    if (typeof s.maximum === 'number' && value > s.maximum) fail(`above ${s.maximum}`);
    if (typeof s.exclusiveMinimum === 'number' && value <= s.exclusiveMinimum)
      fail(`not above ${s.exclusiveMinimum}`);
    if (typeof s.exclusiveMaximum === 'number' && value >= s.exclusiveMaximum)
      fail(`not below ${s.exclusiveMaximum}`);
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number' && value.length < s.minItems)
      fail(`fewer than ${s.minItems} items`);
    if (typeof s.maxItems === 'number' && value.length > s.maxItems)
      fail(`more than ${s.maxItems} items`);
    if (s.items !== undefined)
      for (const [i, item] of value.entries())
        problems.push(...validate(s.items as Schema, item, root, `${path}[${i}]`));
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    for (const name of (s.required as string[] | undefined) ?? [])
      if (!(name in object)) fail(`missing ${name}`);
    for (const [name, v] of Object.entries(object)) {
      const where = `${path}.${name}`;
      if (s.propertyNames !== undefined)
        problems.push(...validate(s.propertyNames as Schema, name, root, `${where}(name)`));
      if (s.properties && name in s.properties)
        problems.push(...validate(s.properties[name]!, v, root, where));
      else if (s.additionalProperties !== undefined)
        problems.push(...validate(s.additionalProperties as Schema, v, root, where));
    }
  }
  if (Array.isArray(s.allOf))
    for (const sub of s.allOf as Schema[]) problems.push(...validate(sub, value, root, path));
  if (
    Array.isArray(s.anyOf) &&
    !(s.anyOf as Schema[]).some((sub) => validate(sub, value, root, path).length === 0)
  )
    fail('matches none of anyOf');
  if (
    Array.isArray(s.oneOf) &&
    (s.oneOf as Schema[]).filter((sub) => validate(sub, value, root, path).length === 0).length !==
      1
  )
    fail('does not match exactly one of oneOf');
  if (s.not !== undefined && validate(s.not as Schema, value, root, path).length === 0)
    fail('matches not');
  return problems;
}
