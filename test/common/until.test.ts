import { describe, expect, it } from 'vitest';
import { until } from '../helpers/until.js';

describe('until (test/helpers/until.ts): the one poll-until helper', () => {
  it('returns the first value the probe gives, treating undefined, false and errors as "not yet"', async () => {
    const answers: Array<() => unknown> = [
      () => undefined,
      () => false,
      () => {
        throw new Error('not up');
      },
      () => 'ready',
    ];
    let calls = 0;
    const value = await until('the fourth answer', () => answers[calls++]!(), { everyMs: 1 });
    expect(value).toBe('ready');
    expect(calls).toBe(4);
  });

  it('gives up after its attempts, naming what it waited for and the last error', async () => {
    let calls = 0;
    const waited = until(
      'a server that never starts',
      () => {
        calls++;
        throw new Error('ECONNREFUSED');
      },
      { attempts: 3, everyMs: 1 },
    );
    await expect(waited).rejects.toThrow(
      /timed out waiting for a server that never starts \(3 attempts, \d+ ms\): ECONNREFUSED/,
    );
    expect(calls).toBe(3);
  });

  it('gives up once its time is spent, however many attempts remain', async () => {
    await expect(until('never', () => false, { timeoutMs: 0 })).rejects.toThrow(
      /timed out waiting for never \(1 attempts/,
    );
  });
});
