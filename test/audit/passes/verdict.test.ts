import { describe, expect, it } from 'vitest';
import { type Finding, type FindingClass, verdictOf } from '../../../src/audit/fairness.js';

const finding = (cls: FindingClass, unfair = false): Finding => ({
  kind: 'no-evidence',
  class: cls,
  unfair,
  message: '',
  evidence: {},
});

describe('verdictOf', () => {
  it('nothing, or only notes and uncorroborated testimony: FAIR', () => {
    expect(verdictOf([])).toBe('FAIR');
    expect(verdictOf([finding('note'), finding('testimony')])).toBe('FAIR');
  });

  it('anything the auditor could not check keeps it from FAIR', () => {
    expect(verdictOf([finding('note'), finding('cannot-verify')])).toBe('CANNOT_VERIFY');
  });

  it('one convicting finding makes it UNFAIR, whatever else could not be checked', () => {
    expect(verdictOf([finding('cannot-verify'), finding('proof', true)])).toBe('UNFAIR');
    expect(verdictOf([finding('testimony', true), finding('cannot-verify')])).toBe('UNFAIR');
  });
});
