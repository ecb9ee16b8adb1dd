import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import validate from '@secvisogram/csaf-validator-lib/validate.js';
import * as mandatory from '@secvisogram/csaf-validator-lib/mandatoryTests.js';
import { csaf_2_0_strict } from '@secvisogram/csaf-validator-lib/schemaTests.js';

// The two validators the issue names: the BSI's csaf-validator-lib (its strict CSAF 2.0 schema and
// every mandatory test of section 6.1) and the OSV schema, copied into test/vectors, under ajv.

const osvSchema = JSON.parse(
  readFileSync(new URL('../vectors/osv-schema.json', import.meta.url), 'utf8'),
) as object;
const ajv = new Ajv2020({ allErrors: true, strict: false });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
const osvValidate = ajv.compile(osvSchema);

/** Every error the strict schema test and the mandatory tests find: [] for a valid document. */
export async function csafErrors(document: unknown): Promise<string[]> {
  const tests = [csaf_2_0_strict, ...Object.values(mandatory)] as Parameters<typeof validate>[0];
  const result = await validate(tests, document);
  return result.tests.flatMap((t) =>
    t.errors.map((e) => `${t.name} ${e.instancePath}: ${e.message}`),
  );
}

export function osvErrors(record: unknown): string[] {
  if (osvValidate(record)) return [];
  return (osvValidate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}
