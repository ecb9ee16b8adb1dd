import type { Leaf } from '../log/leaves.js';
import type { LogFields, LogLevel } from './ops-log.js';

// What a leaf this node just appended means to an operator, as one log line. A line says only what
// the leaf says (the log is public): a sealed embargo decision stays sealed until its reveal.

export interface LeafEvent {
  level: LogLevel;
  event: string;
  message: string;
  fields: LogFields;
}

export function leafEvent(leaf: Leaf, index: number): LeafEvent | undefined {
  const at = { leaf: index };
  switch (leaf.type) {
    case 'release.scheduled':
      return {
        level: 'info',
        event: 'publish',
        message: `${leaf.vendor}/${leaf.metadata_version} scheduled for tick ${leaf.activation_tick} (leaf ${index})`,
        fields: {
          ...at,
          vendor: leaf.vendor,
          version: leaf.metadata_version,
          tick: leaf.activation_tick,
        },
      };
    case 'release.halted':
      return {
        level: 'warn',
        event: 'halt',
        message: `${leaf.vendor}/${leaf.metadata_version} halts the vendor's release from tick ${leaf.activation_tick} (leaf ${index})`,
        fields: {
          ...at,
          vendor: leaf.vendor,
          version: leaf.metadata_version,
          tick: leaf.activation_tick,
        },
      };
    case 'release.activated':
      return {
        level: 'info',
        event: 'activation',
        message: `${leaf.vendor}/${leaf.metadata_version} live at tick ${leaf.tick} in snapshot ${leaf.snapshot_version} (leaf ${index})`,
        fields: {
          ...at,
          vendor: leaf.vendor,
          version: leaf.metadata_version,
          tick: leaf.tick,
          snapshot: leaf.snapshot_version,
        },
      };
    case 'keys.rotated':
      return {
        level: 'warn',
        event: 'rotation',
        message: `root ${leaf.root_version} rotated the repository's keys (leaf ${index})`,
        fields: { ...at, root: leaf.root_version },
      };
    case 'log.key-rotated':
      return {
        level: 'warn',
        event: 'rotation',
        message: `the log announced its next key ${leaf.vkey} (leaf ${index})`,
        fields: { ...at, vkey: leaf.vkey },
      };
    case 'embargo.created':
      return {
        level: 'info',
        event: 'embargo',
        message: `embargo ${leaf.commitment.slice(0, 16)}… created, sealed until its tick (leaf ${index})`,
        fields: { ...at, commitment: leaf.commitment },
      };
    case 'embargo.decided':
      return {
        level: 'info',
        event: 'embargo',
        message: `embargo ${leaf.commitment.slice(0, 16)}… decision ${leaf.seq} recorded, sealed until its tick (leaf ${index})`,
        fields: { ...at, commitment: leaf.commitment, seq: leaf.seq },
      };
    case 'embargo.revealed':
      return {
        level: 'info',
        event: 'embargo',
        message: `embargo ${leaf.id} revealed at tick ${leaf.activation_tick}: ${leaf.members.join(', ')}${leaf.left_out.length ? `; left out ${leaf.left_out.join(', ')}` : ''}${leaf.decisions.length ? `; decisions ${leaf.decisions.map((d) => `${d.decision}${d.member ? ` ${d.member}` : ''} (tick ${d.activation_tick})`).join(', ')}` : ''} (leaf ${index})`,
        fields: { ...at, embargo: leaf.id, tick: leaf.activation_tick },
      };
    case 'groups.declared':
      return {
        level: 'info',
        event: 'groups',
        message: `groups declared: ${leaf.groups.length} (leaf ${index})`,
        fields: { ...at, groups: leaf.groups.length },
      };
    default:
      return undefined;
  }
}
