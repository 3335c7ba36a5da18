/**
 * `npm run schema`: write the simple settings (booleans, integers, enums) of docs/config.schema.json
 * from the settings table (src/config/settings.ts); structured settings (repo, rebuild, checks …)
 * keep their hand-written schema. test/config/schema.test.ts fails when the two disagree.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { allSettings, envOf, flagOf, kebabOf } from '../src/config/settings.js';

const FILE = new URL('../docs/config.schema.json', import.meta.url);

type Node = Record<string, unknown> & { properties?: Record<string, Node> };

const schema = JSON.parse(await readFile(FILE, 'utf8')) as Node;
const properties: Record<string, Node> = schema.properties ?? {};
const ordered: Record<string, Node> = { $schema: properties['$schema'] ?? { type: 'string' } };
for (const [key, spec] of allSettings()) {
  const [head = key, sub] = key.split('.');
  const flag = flagOf(key);
  const where = [flag === undefined ? undefined : `Flag --${kebabOf(flag)}`, envOf(key).length > 0 ? `env ${envOf(key).join(', ')}` : undefined].filter(Boolean).join(', ');
  const description = `${spec.summary}.${where ? ` ${where}.` : ''}`;
  let node: Node | undefined;
  if (spec.kind === 'boolean') node = { description, type: 'boolean', default: false };
  else if (spec.kind === 'integer') node = { description, type: 'integer', minimum: spec.min, maximum: spec.max, default: spec.default };
  else if (spec.kind === 'enum') node = spec.default === '' ? { description, enum: [...spec.values] } : { description, enum: [...spec.values], default: spec.default };
  else if ((spec.kind === 'string' || spec.kind === 'path') && properties[head] === undefined) node = { description, type: 'string', pattern: '\\S' };
  if (sub === undefined) {
    ordered[head] = node ?? properties[head] ?? { description };
  } else {
    const parent = (ordered[head] ?? properties[head]) as Node | undefined;
    if (parent?.properties !== undefined && node !== undefined) parent.properties[sub] = { ...parent.properties[sub], ...node };
  }
}
schema.properties = ordered;
await writeFile(FILE, `${JSON.stringify(schema, null, 2)}\n`);
console.log(`wrote ${FILE.pathname}: ${Object.keys(ordered).length - 1} settings`);
