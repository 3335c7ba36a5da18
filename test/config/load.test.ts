import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadFileFn } from '../../src/config/files.js';
import { DEFAULT_CONFIG_FILE, colorWanted, loadConfig } from '../../src/config/load.js';

const SECRET = 'ghs_loadTestSecretValue123';

let dir = '';
let home = '';
const base = () => ({ env: {}, cwd: dir, home, isRoot: false });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'hostsync-load-'));
  home = path.join(dir, 'home');
  await mkdir(home);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, text: string, mode = 0o600): Promise<string> {
  const file = path.join(dir, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  await chmod(file, mode);
  return file;
}

describe('loadConfig', () => {
  it('reads the config file, the token file next to it, and the environment', async () => {
    await write('etc/token', `${SECRET}\n`);
    const file = await write('etc/config.json', JSON.stringify({ repo: 'acme/hv', dest: '../hv', tokenFile: 'token' }));
    const result = await loadConfig({ config: 'etc/config.json' }, { ...base(), env: { HOSTSYNC_CONCURRENCY: '4' } });
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.config).toMatchObject({
      repo: 'acme/hv',
      dest: path.join(dir, 'hv'),
      concurrency: 4,
      configFile: file,
      token: { value: SECRET, source: '--token-file', file: path.join(dir, 'etc/token') },
    });
    expect(result.warnings).toEqual([]);
  });

  it('a --token-file flag beats tokenFile in the file', async () => {
    await write('flag-token', 'from-flag');
    await write('etc2/config.json', JSON.stringify({ tokenFile: 'missing' }));
    const result = await loadConfig({ config: 'etc2/config.json', tokenFile: 'flag-token', repo: 'a/b', dest: 'd' }, base());
    expect(result.ok && result.config.token?.value).toBe('from-flag');
  });

  it('takes GITHUB_TOKEN from the environment it is given', async () => {
    const result = await loadConfig({ repo: 'a/b', dest: 'd' }, { ...base(), env: { GITHUB_TOKEN: SECRET } });
    expect(result.ok && result.config.token).toEqual({ value: SECRET, source: 'GITHUB_TOKEN' });
  });

  it('a missing --config file is an error naming it and the reason', async () => {
    const result = await loadConfig({ config: 'nope.json', repo: 'a/b', dest: 'd' }, base());
    expect(result).toEqual({
      ok: false,
      errors: [`Cannot read config file ${path.join(dir, 'nope.json')}: it does not exist (ENOENT). Check the path given to --config and its permissions.`],
      warnings: [],
    });
  });

  it('invalid JSON is an error naming the file, line and column', async () => {
    const file = await write('bad.json', '{\n  "repo": "a/b",\n  "dest": "/d",\n}\n');
    const result = await loadConfig({ config: file }, base());
    expect(result.ok ? [] : result.errors).toEqual([`Config file ${file} is not valid JSON: trailing ',' before '}' at line 4, column 1.`]);
  });

  it('unknown keys and bad values all come back at once', async () => {
    const file = await write('many.json', JSON.stringify({ repo: 'acme', destt: '/d', concurrency: 0 }));
    const result = await loadConfig({ config: file }, base());
    expect(result.ok ? [] : result.errors).toEqual([
      `Unknown key \`destt\` in ${file}. Did you mean \`dest\`?`,
      `Invalid repository 'acme' in ${file}. Expected format OWNER/NAME, e.g. "repo": "acme/hypervisor".`,
      'Missing destination directory: give it with --dest DIR, "dest" in the config file, or HOSTSYNC_DEST.',
      `Expected \`concurrency\` in ${file} to be an integer from 1 to 64, got 0.`,
    ]);
  });

  it('token errors and config errors are reported together, without the token', async () => {
    const tokenFile = await write('two-lines', `${SECRET}\nsecond line`, 0o644);
    const result = await loadConfig({ tokenFile, repo: SECRET }, base());
    expect(result.ok).toBe(false);
    const text = [...(result.ok ? [] : result.errors), ...result.warnings].join('\n');
    expect(text).toContain(`The token in token file ${tokenFile}`);
    expect(text).toContain('Missing destination directory');
    expect(text).toContain(`chmod 600 ${tokenFile}`);
    expect(text).not.toContain(SECRET);
  });

  it('--config with no value is an error', async () => {
    const result = await loadConfig({ config: true }, base());
    expect(result.ok ? [] : result.errors).toEqual(['`--config` needs the path of a JSON file, e.g. --config /etc/hostsync/config.json.']);
  });

  describe('the default config file', () => {
    const reads: string[] = [];
    const fake =
      (files: Record<string, string>): ReadFileFn =>
      async (file) => {
        reads.push(file);
        const text = files[file];
        if (text === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
        return { text, mode: 0o644 };
      };

    it('is read only when the caller asks', async () => {
      const files = { [DEFAULT_CONFIG_FILE]: JSON.stringify({ repo: 'acme/hv', dest: '/etc/hypervisor' }) };
      const without = await loadConfig({}, { ...base(), readFile: fake(files) });
      expect(without.ok).toBe(false);
      expect(reads).not.toContain(DEFAULT_CONFIG_FILE);
      const withIt = await loadConfig({}, { ...base(), readFile: fake(files), defaultConfigFile: true });
      expect(withIt.ok && [withIt.config.repo, withIt.config.configFile]).toEqual(['acme/hv', DEFAULT_CONFIG_FILE]);
    });

    it('is skipped silently when it does not exist', async () => {
      const result = await loadConfig({ repo: 'a/b', dest: '/d' }, { ...base(), readFile: fake({}), defaultConfigFile: true });
      expect(result.ok && result.config.configFile).toBeUndefined();
    });

    it('--config wins over it', async () => {
      const files = { '/x.json': JSON.stringify({ repo: 'x/y', dest: '/d' }), [DEFAULT_CONFIG_FILE]: '{' };
      const result = await loadConfig({ config: '/x.json' }, { ...base(), readFile: fake(files), defaultConfigFile: true });
      expect(result.ok && result.config.repo).toBe('x/y');
    });
  });

  it('commands may go without repo and dest', async () => {
    const result = await loadConfig({}, { ...base(), require: { repo: false, dest: false } });
    expect(result.ok && [result.config.repo, result.config.dest]).toEqual([undefined, undefined]);
  });
});

describe('colorWanted', () => {
  it.each([
    [{}, true, true],
    [{}, false, false],
    [{ NO_COLOR: '1' }, true, false],
    [{ NO_COLOR: '' }, true, true],
    [{ TERM: 'dumb' }, true, false],
    [{ FORCE_COLOR: '1' }, false, true],
    [{ FORCE_COLOR: '' }, false, true],
    [{ FORCE_COLOR: '1', NO_COLOR: '1' }, false, true],
    [{ FORCE_COLOR: '0' }, true, false],
    [{ FORCE_COLOR: 'false' }, true, false],
  ])('%j on a %s terminal → %s', (env, isTTY, expected) => {
    expect(colorWanted(isTTY, env)).toBe(expected);
  });
});
