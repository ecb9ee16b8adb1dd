// The BSI's csaf-validator-lib ships JavaScript with JSDoc and no declarations: the part the tests use.
declare module '@secvisogram/csaf-validator-lib/validate.js' {
  type DocumentTest = (doc: unknown) => unknown;
  interface Finding {
    instancePath: string;
    message: string;
  }
  export default function validate(
    tests: DocumentTest[],
    document: unknown,
  ): Promise<{
    isValid: boolean;
    tests: Array<{ name: string; isValid: boolean; errors: Finding[]; warnings: Finding[] }>;
  }>;
}
declare module '@secvisogram/csaf-validator-lib/mandatoryTests.js' {
  const tests: Record<string, (doc: unknown) => unknown>;
  export = tests;
}
declare module '@secvisogram/csaf-validator-lib/schemaTests.js' {
  export const csaf_2_0_strict: (doc: unknown) => unknown;
}
