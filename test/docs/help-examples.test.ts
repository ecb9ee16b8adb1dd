import { describe, expect, it } from 'vitest';
import type { Command } from '../../src/cli/spec.js';
import { COMMANDS } from '../../src/cli/table.js';

/** Every example of every command and subcommand, from the table the CLI dispatches on. */
function examples(commands: readonly Command[]): string[] {
  return commands.flatMap((c) => [...c.examples, ...examples(c.subcommands ?? [])]);
}

// `fairpatch embargo create --help` showed `--release-at 2026-12-01T16:00:00Z`: a date already past
// when read, so the example could only be refused (RELEASE_TOO_SOON). Like the README's, the
// examples' times are relative (`+2h`) or computed, so they run whenever they are read.
describe('help examples run whenever they are read', () => {
  it('every --release-at in an example is relative or computed', () => {
    const times = examples(COMMANDS).flatMap((e) =>
      [...e.matchAll(/--release-at (\S+)/g)].map((m) => m[1]!),
    );
    expect(times.length).toBeGreaterThan(0);
    for (const t of times) expect(t).toMatch(/^(\+\d+[smhd]|"?\$\()/);
  });
});
