/**
 * A strict parser of Prometheus' text exposition format
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format): the check the
 * tests hold hostsync's textfile metrics to (src/metrics/textfile.ts writes them).
 */

/** One series' value, as parsed. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestamp?: number | undefined;
}

/** A parsed exposition: metadata per family, and the samples in order. */
export interface ParsedExposition {
  readonly families: ReadonlyMap<string, { readonly help?: string | undefined; readonly type?: string | undefined }>;
  readonly samples: readonly Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf)|NaN)$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/**
 * Parse the text exposition format strictly, throwing on the first rule broken: names and label
 * names, label-value and HELP escapes, values, at most one HELP and TYPE per family with TYPE
 * before its samples, each family's lines together, no series twice, a final line feed. With
 * `allowTimestamps: false` (the textfile collector's rule) a sample timestamp is an error too.
 * The tests' check of the format.
 */
export function parseExposition(text: string, options: { readonly allowTimestamps?: boolean } = {}): ParsedExposition {
  if (text !== '' && !text.endsWith('\n')) throw new Error('the last line does not end with a line feed');
  const families = new Map<string, { help?: string; type?: string; hasSamples?: boolean }>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  const closed = new Set<string>();
  let current: string | undefined;
  const enter = (family: string, line: number): void => {
    if (family === current) return;
    if (closed.has(family)) throw new Error(`line ${line}: lines of ${family} are not together`);
    if (current !== undefined) closed.add(current);
    current = family;
  };
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const meta = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(raw);
      if (meta === null) return; // a plain comment
      const kind = meta[1];
      const name = meta[2]!;
      const rest = meta[3] ?? '';
      if (!METRIC_NAME.test(name)) throw new Error(`line ${line}: invalid metric name '${name}'`);
      enter(name, line);
      const family = families.get(name) ?? {};
      families.set(name, family);
      if (kind === 'HELP') {
        if (family.help !== undefined) throw new Error(`line ${line}: second HELP for ${name}`);
        family.help = unescapeHelp(rest, line);
      } else {
        if (family.type !== undefined) throw new Error(`line ${line}: second TYPE for ${name}`);
        if (family.hasSamples === true) throw new Error(`line ${line}: TYPE for ${name} after its samples`);
        if (!TYPES.has(rest.trim())) throw new Error(`line ${line}: unknown type '${rest.trim()}' for ${name}`);
        family.type = rest.trim();
      }
      return;
    }
    const sample = parseSample(raw, line);
    if (sample.timestamp !== undefined && options.allowTimestamps === false) throw new Error(`line ${line}: a timestamp, which the textfile collector rejects`);
    const familyName = familyOf(sample.name, families);
    enter(familyName, line);
    const family = families.get(familyName) ?? {};
    families.set(familyName, family);
    family.hasSamples = true;
    const key = `${sample.name}{${Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
    if (seen.has(key)) throw new Error(`line ${line}: series ${key} appears twice`);
    seen.add(key);
    samples.push(sample);
  });
  return { families, samples };
}

function familyOf(name: string, families: ReadonlyMap<string, { readonly type?: string | undefined }>): string {
  if (families.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.endsWith(suffix) ? name.slice(0, -suffix.length) : undefined;
    const type = base === undefined ? undefined : families.get(base)?.type;
    if (base !== undefined && (type === 'histogram' || type === 'summary')) return base;
  }
  return name;
}

function parseSample(raw: string, line: number): Sample {
  const nameMatch = /^[ \t]*([^{ \t]+)/.exec(raw);
  const name = nameMatch?.[1] ?? '';
  if (!METRIC_NAME.test(name)) throw new Error(`line ${line}: invalid metric name '${name}'`);
  let at = nameMatch![0].length;
  const labels: Record<string, string> = {};
  if (raw[at] === '{') {
    at++;
    for (;;) {
      while (raw[at] === ' ' || raw[at] === '\t') at++;
      if (raw[at] === '}') {
        at++;
        break;
      }
      const labelMatch = /^([^=\s]+)[ \t]*=[ \t]*"/.exec(raw.slice(at));
      if (labelMatch === null) throw new Error(`line ${line}: malformed label set`);
      const label = labelMatch[1]!;
      if (!LABEL_NAME.test(label) || label.startsWith('__')) throw new Error(`line ${line}: invalid label name '${label}'`);
      if (Object.hasOwn(labels, label)) throw new Error(`line ${line}: label ${label} twice`);
      at += labelMatch[0].length;
      let value = '';
      for (;;) {
        const c = raw[at];
        if (c === undefined) throw new Error(`line ${line}: unterminated label value`);
        at++;
        if (c === '"') break;
        if (c === '\\') {
          const next = raw[at++];
          if (next === '\\') value += '\\';
          else if (next === '"') value += '"';
          else if (next === 'n') value += '\n';
          else throw new Error(`line ${line}: invalid escape '\\${next ?? ''}' in a label value`);
        } else value += c;
      }
      labels[label] = value;
      while (raw[at] === ' ' || raw[at] === '\t') at++;
      if (raw[at] === ',') at++;
      else if (raw[at] !== '}') throw new Error(`line ${line}: expected ',' or '}' after label ${label}`);
    }
  }
  const rest = raw.slice(at);
  if (rest !== '' && !/^[ \t]/.test(rest)) throw new Error(`line ${line}: no space before the value`);
  const parts = rest.trim().split(/[ \t]+/);
  if (parts.length < 1 || parts.length > 2 || parts[0] === '') throw new Error(`line ${line}: expected a value and at most a timestamp`);
  const valueText = parts[0]!;
  if (!FLOAT.test(valueText)) throw new Error(`line ${line}: invalid value '${valueText}'`);
  const value = valueText === 'NaN' ? NaN : valueText.endsWith('Inf') ? (valueText.startsWith('-') ? -Infinity : Infinity) : Number(valueText);
  const stamp = parts[1];
  if (stamp !== undefined && !/^-?\d+$/.test(stamp)) throw new Error(`line ${line}: invalid timestamp '${stamp}'`);
  return { name, labels, value, timestamp: stamp === undefined ? undefined : Number(stamp) };
}

function unescapeHelp(text: string, line: number): string {
  return text.replace(/\\(.?)/g, (_m, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new Error(`line ${line}: invalid escape '\\${c}' in HELP`);
  });
}
