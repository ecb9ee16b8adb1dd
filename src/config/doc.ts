import type { Settings } from './settings.js';

/**
 * A settings table of docs/configuration.md, generated from a settings schema so the two cannot
 * disagree: `npm run docs:config` rewrites it between its markers, and a test fails when the file is
 * out of date.
 */

const cell = (text: string): string => text.replace(/\|/g, '\\|');
const code = (text: string): string => `\`${text}\``;

export function settingsTable<Name extends string, Config>(
  settings: Settings<Name, Config>,
): string {
  const rows = settings.names.map((name) => {
    const { flag, env, arg, multiple } = settings.sources[name];
    const fallback = settings.defaultText(name);
    return [
      code(name),
      flag ? `${code(`--${flag} ${arg}`)}${multiple ? ' (repeatable)' : ''}` : '— (secret)',
      env ? code(env) : '—',
      fallback !== undefined ? code(fallback) : settings.required(name) ? 'required' : '—',
      cell(settings.description(name)),
    ];
  });
  return [
    '| Setting (`--config` key) | Flag | Environment | Default | Meaning |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** Where a generated table goes: the text between two HTML comments, which stay. */
export interface TableMarkers {
  begin: string;
  end: string;
}

/** `doc` with the text between `markers` replaced by `table`. */
export function withTable(doc: string, markers: TableMarkers, table: string): string {
  const begin = doc.indexOf(markers.begin);
  const end = doc.indexOf(markers.end);
  if (begin < 0 || end < begin)
    throw new Error(`docs/configuration.md lacks the markers ${markers.begin} … ${markers.end}`);
  return `${doc.slice(0, begin + markers.begin.length)}\n\n${table}\n\n${doc.slice(end)}`;
}
