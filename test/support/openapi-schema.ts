/**
 * Conformance checks against GitHub's published OpenAPI description
 * (@octokit/openapi, api.github.com.deref.json): validate a JSON body against the response schema
 * of an operation for a status, with ajv.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import AjvModule, { type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Operation {
  readonly responses?: Record<string, { readonly content?: Record<string, { readonly schema?: Json }> }>;
}

interface Spec {
  readonly paths: Record<string, Record<string, Operation>>;
}

/** OpenAPI 3.0's `nullable: true` as JSON Schema: `anyOf: [schema, {type: 'null'}]`. */
function toJsonSchema(node: Json): Json {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (node === null || typeof node !== 'object') return node;
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'nullable' || key === 'example' || key === 'examples') continue;
    out[key] = toJsonSchema(value);
  }
  return node['nullable'] === true ? { anyOf: [out, { type: 'null' }] } : out;
}

/** Validates response bodies against the OpenAPI description; load once per test file. */
export interface GitHubSchemas {
  /**
   * Errors of `body` against the schema of `method path` (OpenAPI path template, e.g.
   * `/repos/{owner}/{repo}`) for `status`; empty when it conforms.
   */
  validate(path: string, status: number, body: unknown, method?: string): string[];
}

/** Load `api.github.com.deref.json` (~70 MB; takes about a second). */
export async function loadGitHubSchemas(): Promise<GitHubSchemas> {
  const require = createRequire(import.meta.url);
  const file = require.resolve('@octokit/openapi/generated/api.github.com.deref.json');
  const spec = JSON.parse(await readFile(file, 'utf8')) as Spec;
  const ajv = new AjvModule.default({ strict: false, allErrors: true, validateFormats: true });
  addFormatsModule.default(ajv);
  ajv.addFormat('timestamp', true);
  const cache = new Map<string, ValidateFunction>();
  return {
    validate(path, status, body, method = 'get') {
      const key = `${method} ${path} ${status}`;
      let validator = cache.get(key);
      if (!validator) {
        const schema = spec.paths[path]?.[method]?.responses?.[String(status)]?.content?.['application/json']?.schema;
        if (schema === undefined) return [`the OpenAPI description has no JSON response ${status} for ${method.toUpperCase()} ${path}`];
        validator = ajv.compile(toJsonSchema(schema) as object);
        cache.set(key, validator);
      }
      if (validator(body)) return [];
      return (validator.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'} ${JSON.stringify(e.params)}`);
    },
  };
}
