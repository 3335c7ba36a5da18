import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import type { Config, ConfigInput, LooseConfig, ParseResult, Token } from '../../src/config/types.js';

const FILE = '/etc/hostsync/config.json';

/** A minimal valid input: repo and dest as flags, nothing else set. */
function input(over: Partial<ConfigInput> = {}): ConfigInput {
  return {
    flags: { repo: 'acme/hypervisor', dest: '/etc/hypervisor' },
    env: {},
    token: undefined,
    home: '/home/ops',
    isRoot: false,
    cwd: '/work',
    ...over,
  };
}

function withFile(data: unknown, over: Partial<ConfigInput> = {}): ConfigInput {
  return input({ file: { path: FILE, data }, ...over });
}

function config(result: ParseResult<Config> | ParseResult<LooseConfig>): LooseConfig {
  if (!result.ok) throw new Error(`expected ok, got errors:\n${result.errors.join('\n')}`);
  return result.config;
}

function errors(result: ParseResult<Config> | ParseResult<LooseConfig>): readonly string[] {
  if (result.ok) throw new Error('expected errors, got a config');
  return result.errors;
}

describe('defaults', () => {
  it('fills every default', () => {
    expect(config(parseConfig(input()))).toEqual({
      repo: 'acme/hypervisor',
      repoOwner: 'acme',
      repoName: 'hypervisor',
      ref: 'HEAD',
      dest: '/etc/hypervisor',
      path: '',
      apiUrl: 'https://api.github.com',
      serverUrl: 'https://github.com',
      stateDir: '/home/ops/.local/state/hostsync',
      concurrency: 8,
      json: false,
      checkOnly: false,
      forceFull: false,
      verbose: false,
      quiet: false,
      prune: false,
      preserve: [],
      token: undefined,
      layout: 'inplace',
      historyLimit: 5,
      lockTimeout: 0,
      requireSigned: false,
      allowDowngrade: false,
      owner: undefined,
      group: undefined,
      rebuild: undefined,
      hooks: {},
      checks: [],
      preset: undefined,
      metricsFile: undefined,
      trust: { allowedSignersFile: undefined, openpgpKeysFile: undefined },
      timeoutSec: 30,
      stallSec: 20,
      allowSystemDest: false,
      backupLimitMb: 256,
      lowSpeedLimit: 1024,
      lowSpeedTimeSec: 60,
      transferTimeoutSec: 3600,
      transport: 'auto',
      lfs: 'auto',
      gitUrl: undefined,
      gitUser: 'x-access-token',
      sshKeyFile: undefined,
      sshKnownHostsFile: undefined,
      proxy: undefined,
      caFile: undefined,
      githubApp: undefined,
      poll: 'auto',
      rollout: undefined,
      hostId: undefined,
      configFile: undefined,
    } satisfies Config);
  });

  it.each([
    ['root', { isRoot: true, env: {} }, '/var/lib/hostsync'],
    ['root ignores XDG', { isRoot: true, env: { XDG_STATE_HOME: '/x' } }, '/var/lib/hostsync'],
    ['user with XDG_STATE_HOME', { isRoot: false, env: { XDG_STATE_HOME: '/srv/state' } }, '/srv/state/hostsync'],
    ['user with relative XDG_STATE_HOME (ignored, per the XDG spec)', { isRoot: false, env: { XDG_STATE_HOME: 'rel' } }, '/home/ops/.local/state/hostsync'],
    ['user', { isRoot: false, env: {} }, '/home/ops/.local/state/hostsync'],
    ['systemd StateDirectory=', { isRoot: true, env: { STATE_DIRECTORY: '/var/lib/hostsync-a' } }, '/var/lib/hostsync-a'],
    ['systemd with several directories takes the first', { isRoot: true, env: { STATE_DIRECTORY: '/var/lib/one:/var/lib/two' } }, '/var/lib/one'],
    ['empty STATE_DIRECTORY counts as unset', { isRoot: true, env: { STATE_DIRECTORY: '' } }, '/var/lib/hostsync'],
  ])('stateDir: %s', (_name, over, expected) => {
    expect(config(parseConfig(input(over))).stateDir).toBe(expected);
  });
});

describe('precedence: flag > file > env > default', () => {
  // For each key: [flag key, flag value, file value, env var, env value, default, and what each layer yields].
  const cases = [
    {
      key: 'apiUrl',
      flag: 'https://flag.example/api/v3',
      file: 'https://file.example/api/v3',
      env: ['GITHUB_API_URL', 'https://env.example/api/v3'],
      want: ['https://flag.example/api/v3', 'https://file.example/api/v3', 'https://env.example/api/v3', 'https://api.github.com'],
    },
    {
      key: 'stateDir',
      flag: '/flag/state',
      file: '/file/state',
      env: ['STATE_DIRECTORY', '/env/state'],
      want: ['/flag/state', '/file/state', '/env/state', '/home/ops/.local/state/hostsync'],
    },
    {
      key: 'ref',
      flag: 'flag-branch',
      file: 'v1.2.3',
      env: ['HOSTSYNC_REF', 'env-branch'],
      want: ['flag-branch', 'v1.2.3', 'env-branch', 'HEAD'],
    },
    {
      key: 'concurrency',
      flag: '3',
      file: 4,
      env: ['HOSTSYNC_CONCURRENCY', '5'],
      want: [3, 4, 5, 8],
    },
  ] as const;

  for (const c of cases) {
    const [envName, envValue] = c.env;
    const env = { [envName]: envValue };
    const flags = { repo: 'acme/hypervisor', dest: '/etc/hypervisor' };
    it.each([
      ['flag beats file and env', { flags: { ...flags, [c.key]: c.flag }, file: { path: FILE, data: { [c.key]: c.file } }, env }, c.want[0]],
      ['file beats env', { flags, file: { path: FILE, data: { [c.key]: c.file } }, env }, c.want[1]],
      ['env beats default', { flags, env }, c.want[2]],
      ['default', { flags }, c.want[3]],
    ])(`${c.key}: %s`, (_name, over, expected) => {
      expect(config(parseConfig(input(over)))[c.key]).toBe(expected);
    });
  }

  it('HOSTSYNC_API_URL wins over GITHUB_API_URL', () => {
    const env = { HOSTSYNC_API_URL: 'https://a.example/api/v3', GITHUB_API_URL: 'https://b.example/api/v3' };
    expect(config(parseConfig(input({ env }))).apiUrl).toBe('https://a.example/api/v3');
  });

  it('flags that cac coerced to numbers are accepted', () => {
    const c = config(parseConfig(input({ flags: { repo: 'acme/hypervisor', dest: '/d', concurrency: 16, ref: 20240101 } })));
    expect([c.concurrency, c.ref]).toEqual([16, '20240101']);
  });

  it('ignores flags that are not settings', () => {
    const flags = { repo: 'acme/hypervisor', dest: '/d', '--': [], _: ['x'], config: FILE, to: 'abc', checks: 'x', hooks: 3 };
    expect(parseConfig(input({ flags })).ok).toBe(true);
  });
});

describe('paths', () => {
  it.each([
    ['relative flag resolves against cwd', { flags: { repo: 'a/b', dest: 'hv' } }, '/work/hv'],
    ['dot resolves to cwd', { flags: { repo: 'a/b', dest: '.' } }, '/work'],
    ['~ expands to home', { flags: { repo: 'a/b', dest: '~/hv' } }, '/home/ops/hv'],
    ['relative env resolves against cwd', { flags: { repo: 'a/b' }, env: { HOSTSYNC_DEST: 'x/../hv' } }, '/work/hv'],
    ['relative file value resolves against the file', { flags: { repo: 'a/b' }, file: { path: FILE, data: { dest: '../hv' } } }, '/etc/hv'],
    ['absolute stays', { flags: { repo: 'a/b', dest: '/srv/hv/' } }, '/srv/hv'],
  ])('dest: %s', (_name, over, expected) => {
    expect(config(parseConfig(input(over))).dest).toBe(expected);
  });

  it.each([
    ['/srv/hv-state', true],
    ['/srv', true],
    ['/srv/hv/..state', false],
    ['/srv/hv', false],
  ])('stateDir %s beside dest /srv/hv is allowed: %s', (stateDir, allowed) => {
    expect(parseConfig(input({ flags: { repo: 'a/b', dest: '/srv/hv', stateDir } })).ok).toBe(allowed);
  });

  it('resolves stateDir and metricsFile too', () => {
    const c = config(parseConfig(input({ flags: { repo: 'a/b', dest: '/d', stateDir: 'st', metricsFile: '~/m.prom' } })));
    expect([c.stateDir, c.metricsFile]).toEqual(['/work/st', '/home/ops/m.prom']);
  });

  it.each([
    ['', ''],
    ['hosts', 'hosts'],
    ['hosts/', 'hosts'],
    ['./hosts//alpha/.', 'hosts/alpha'],
    ['.', ''],
    ['a.git/b', 'a.git/b'],
  ])('path %j normalises to %j', (raw, expected) => {
    const flags = { repo: 'a/b', dest: '/d', ...(raw === '' ? {} : { path: raw }) };
    expect(config(parseConfig(input({ flags }))).path).toBe(expected);
  });
});

describe('repository, ref and URLs', () => {
  it.each([
    ['acme/hypervisor', 'acme', 'hypervisor'],
    ['Acme-Corp/hyper.visor_2', 'Acme-Corp', 'hyper.visor_2'],
    ['octo_emu/repo', 'octo_emu', 'repo'],
  ])('repo %s', (repo, owner, name) => {
    const c = config(parseConfig(input({ flags: { repo, dest: '/d' } })));
    expect([c.repo, c.repoOwner, c.repoName]).toEqual([repo, owner, name]);
  });

  it('drops a .git suffix with a warning', () => {
    const result = parseConfig(input({ flags: { repo: 'acme/hv.git', dest: '/d' } }));
    expect(config(result).repo).toBe('acme/hv');
    expect(result.warnings).toEqual(["Repository 'acme/hv.git' ends in .git; using acme/hv. Write --repo acme/hv to silence this."]);
  });

  it.each(['main', 'HEAD', 'refs/heads/release/2024', 'v1.0', 'feature/x-y_z', '0123abcd', 'a'.repeat(40)])('accepts ref %s', (ref) => {
    expect(config(parseConfig(input({ flags: { repo: 'a/b', dest: '/d', ref } }))).ref).toBe(ref);
  });

  it.each([
    ['https://ghe.example.com/api/v3/', 'https://ghe.example.com/api/v3', 'https://ghe.example.com'],
    ['https://api.github.com', 'https://api.github.com', 'https://github.com'],
    ['https://api.octo.ghe.com', 'https://api.octo.ghe.com', 'https://octo.ghe.com'],
    // Any other API: its own origin, never github.com (git requests carry the API's token).
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['https://git.example.com/api/v1', 'https://git.example.com/api/v1', 'https://git.example.com'],
  ])('apiUrl %s → %s, server %s', (apiUrl, api, server) => {
    const result = parseConfig(input({ flags: { repo: 'a/b', dest: '/d', apiUrl } }));
    expect([config(result).apiUrl, config(result).serverUrl]).toEqual([api, server]);
    expect(result.warnings).toEqual([]);
  });

  it('an explicit serverUrl beats the one derived from apiUrl', () => {
    const flags = { repo: 'a/b', dest: '/d', apiUrl: 'https://ghe.example.com/api/v3' };
    const c = config(parseConfig(input({ flags, env: { GITHUB_SERVER_URL: 'https://git.example.com/' } })));
    expect(c.serverUrl).toBe('https://git.example.com');
  });

  it.each([
    ['http://ghe.example.com/api/v3', "`--api-url` is 'http://ghe.example.com/api/v3', not HTTPS: the token and the content travel unencrypted."],
    ['https://ghe.example.com', "`--api-url` is 'https://ghe.example.com'; GitHub Enterprise Server serves its REST API under /api/v3, e.g. --api-url https://ghe.example.com/api/v3."],
  ])('apiUrl %s warns', (apiUrl, warning) => {
    const result = parseConfig(input({ flags: { repo: 'a/b', dest: '/d', apiUrl } }));
    expect(result.ok).toBe(true);
    expect(result.warnings).toEqual([warning]);
  });
});

describe('validation messages', () => {
  const base = { repo: 'acme/hypervisor', dest: '/etc/hypervisor' };
  // Exact text: these are what users read.
  it.each<[string, ConfigInput, string]>([
    ['bad repo', input({ flags: { ...base, repo: 'acme' } }), "Invalid repository 'acme'. Expected format OWNER/NAME, e.g. --repo acme/hypervisor."],
    ['repo as git:// URL', input({ flags: { ...base, repo: 'git://github.com/acme/hv.git' } }), "Refusing 'git://github.com/acme/hv.git': git:// is neither authenticated nor encrypted. Use the https:// or ssh:// URL of the repository."],
    ['repo URL with a token', input({ flags: { ...base, repo: 'https://x:secret@github.com/acme/hv.git' } }), "Expected `--repo` to hold no credentials, got 'https://***:***@github.com/acme/hv.git'. Put the token in a file and point tokenFile at it; the user name it is sent under is gitUser."],
    ['repo in file', withFile({ repo: 'acme/' }, { flags: { dest: '/d' } }), `Invalid repository 'acme/' in ${FILE}. Expected format OWNER/NAME, e.g. "repo": "acme/hypervisor".`],
    ['repo in env', input({ flags: { dest: '/d' }, env: { HOSTSYNC_REPO: '-x/y' } }), "Invalid repository '-x/y' in HOSTSYNC_REPO. Expected format OWNER/NAME, e.g. HOSTSYNC_REPO=acme/hypervisor."],
    ['missing repo', input({ flags: { dest: '/d' } }), 'Missing repository: give it with --repo OWNER/NAME, "repo" in the config file, or HOSTSYNC_REPO.'],
    ['missing dest', input({ flags: { repo: 'a/b' } }), 'Missing destination directory: give it with --dest DIR, "dest" in the config file, or HOSTSYNC_DEST.'],
    ['dest is /', input({ flags: { ...base, dest: '/' } }), "Refusing `--dest` '/': hostsync would own the whole filesystem. Give a dedicated directory, e.g. --dest /etc/hypervisor."],
    ['concurrency 0 in file', withFile({ concurrency: 0 }), `Expected \`concurrency\` in ${FILE} to be an integer from 1 to 64, got 0.`],
    ['concurrency abc flag', input({ flags: { ...base, concurrency: 'abc' } }), "Expected `--concurrency` to be an integer from 1 to 64, got 'abc'."],
    ['concurrency as a string in the file', withFile({ concurrency: '8' }), `Expected \`concurrency\` in ${FILE} to be an integer from 1 to 64, got '8'.`],
    ['concurrency 2.5', input({ flags: { ...base, concurrency: 2.5 } }), 'Expected `--concurrency` to be an integer from 1 to 64, got 2.5.'],
    ['concurrency env', input({ env: { HOSTSYNC_CONCURRENCY: '65' } }), "Expected `HOSTSYNC_CONCURRENCY` to be an integer from 1 to 64, got '65'."],
    ['historyLimit', withFile({ historyLimit: 0 }), `Expected \`historyLimit\` in ${FILE} to be an integer from 1 to 1000, got 0.`],
    ['lockTimeout', input({ flags: { ...base, lockTimeout: '-1' } }), "Expected `--lock-timeout` to be an integer from 0 to 86400, got '-1'."],
    ['timeoutSec', input({ flags: { ...base, timeoutSec: '1e3' } }), "Expected `--timeout-sec` to be an integer from 1 to 3600, got '1e3'."],
    ['stallSec', withFile({ stallSec: null }), `Expected \`stallSec\` in ${FILE} to be an integer from 1 to 3600, got null.`],
    ['boolean in file', withFile({ prune: 'yes' }), `Expected \`prune\` in ${FILE} to be true or false, got 'yes'.`],
    ['boolean in env', input({ env: { HOSTSYNC_PRUNE: 'maybe' } }), "Expected `HOSTSYNC_PRUNE` to be 1, 0, true or false, got 'maybe'."],
    ['string given a number in file', withFile({ ref: 42 }), `Expected \`ref\` in ${FILE} to be a string, got 42.`],
    ['flag without value', input({ flags: { ...base, ref: true } }), '`--ref` needs a value.'],
    ['flag given twice', input({ flags: { ...base, ref: ['a', 'b'] } }), '`--ref` was given 2 times; give it once.'],
    ['empty string', withFile({ ref: ' ' }), `Expected \`ref\` in ${FILE} to be a non-empty string, got ' '.`],
    ['ref ..', input({ flags: { ...base, ref: 'a..b' } }), "Invalid ref 'a..b': git ref names cannot contain '..'. Use a branch, tag or commit SHA, e.g. --ref main."],
    ['ref space', input({ flags: { ...base, ref: 'my branch' } }), "Invalid ref 'my branch': git ref names cannot contain spaces or control characters. Use a branch, tag or commit SHA, e.g. --ref main."],
    ['ref control char', input({ flags: { ...base, ref: 'a\tb' } }), "Invalid ref 'a\\x09b': git ref names cannot contain spaces or control characters. Use a branch, tag or commit SHA, e.g. --ref main."],
    ['ref ~', input({ flags: { ...base, ref: 'main~1' } }), "Invalid ref 'main~1': git ref names cannot contain '~'. Use a branch, tag or commit SHA, e.g. --ref main."],
    ['ref ^', withFile({ ref: 'main^' }), `Invalid ref 'main^' in ${FILE}: git ref names cannot contain '^'. Use a branch, tag or commit SHA, e.g. "ref": "main".`],
    ['ref :', input({ flags: { ...base, ref: 'a:b' } }), "Invalid ref 'a:b': git ref names cannot contain ':'. Use a branch, tag or commit SHA, e.g. --ref main."],
    ['ref ?', input({ flags: { ...base, ref: 'a?' } }), "Invalid ref 'a?': git ref names cannot contain '?'. Use a branch, tag or commit SHA, e.g. --ref main."],
    ['ref *', input({ flags: { ...base, ref: 'a*' } }), "Invalid ref 'a*': git ref names cannot contain '*'. Use a branch, tag or commit SHA, e.g. --ref main."],
    ['ref [', input({ flags: { ...base, ref: 'a[1]' } }), "Invalid ref 'a[1]': git ref names cannot contain '['. Use a branch, tag or commit SHA, e.g. --ref main."],
    ['ref backslash', input({ flags: { ...base, ref: 'a\\b' } }), "Invalid ref 'a\\b': git ref names cannot contain '\\'. Use a branch, tag or commit SHA, e.g. --ref main."],
    ['ref leading -', input({ flags: { ...base, ref: '-main' } }), "Invalid ref '-main': git ref names cannot start with '-'. Use a branch, tag or commit SHA, e.g. --ref main."],
    ['ref .lock', input({ env: { HOSTSYNC_REF: 'main.lock' } }), "Invalid ref 'main.lock' in HOSTSYNC_REF: git ref names cannot end with '.lock'. Use a branch, tag or commit SHA, e.g. HOSTSYNC_REF=main."],
    ['ref trailing /', input({ flags: { ...base, ref: 'main/' } }), "Invalid ref 'main/': git ref names cannot end with '/'. Use a branch, tag or commit SHA, e.g. --ref main."],
    ['ref trailing .', input({ flags: { ...base, ref: 'main.' } }), "Invalid ref 'main.': git ref names cannot end with '.'. Use a branch, tag or commit SHA, e.g. --ref main."],
    ['ref @{', input({ flags: { ...base, ref: 'main@{1}' } }), "Invalid ref 'main@{1}': git ref names cannot contain '@{'. Use a branch, tag or commit SHA, e.g. --ref main."],
    ['ref //', input({ flags: { ...base, ref: 'a//b' } }), "Invalid ref 'a//b': git ref names cannot have empty components ('//' or a leading '/'). Use a branch, tag or commit SHA, e.g. --ref main."],
    ['ref hidden component', input({ flags: { ...base, ref: 'a/.b' } }), "Invalid ref 'a/.b': git ref names cannot have a component starting with '.'. Use a branch, tag or commit SHA, e.g. --ref main."],
    ['path ..', input({ flags: { ...base, path: 'hosts/../../etc' } }), "Expected `--path` to stay inside the repository, got 'hosts/../../etc'. Give the folder's path from the repository root without '..', e.g. --path hosts/etc."],
    ['path absolute', input({ flags: { ...base, path: '/hosts' } }), "Expected `--path` to be a folder relative to the repository root, got '/hosts'. Drop the leading '/', e.g. --path hosts."],
    ['path .git', withFile({ path: 'sub/.git/hooks' }), `Expected \`path\` in ${FILE} not to point into .git, got 'sub/.git/hooks'. hostsync syncs tracked files only; give a folder of the repository, e.g. "path": "hosts".`],
    ['path backslash', input({ flags: { ...base, path: 'hosts\\alpha' } }), "Expected `--path` to use '/' between folders, got 'hosts\\alpha', e.g. --path hosts/alpha."],
    ['path NUL', input({ flags: { ...base, path: 'a\0b' } }), "Expected `--path` to be a string without NUL characters, got 'a\\x00b'."],
    ['apiUrl not a URL', input({ flags: { ...base, apiUrl: 'ghe.example.com' } }), "Expected `--api-url` to be an http(s) URL, got 'ghe.example.com', e.g. --api-url https://github.example.com/api/v3."],
    ['apiUrl ftp', input({ env: { GITHUB_API_URL: 'ftp://x' } }), "Expected `GITHUB_API_URL` to be an http(s) URL, got 'ftp://x', e.g. GITHUB_API_URL=https://github.example.com/api/v3."],
    ['apiUrl credentials', input({ flags: { ...base, apiUrl: 'https://u:secret@ghe.example.com/api/v3' } }), "Expected `--api-url` to hold no credentials, got 'https://***:***@ghe.example.com/api/v3'. Put the token in a file and point tokenFile at it."],
    ['apiUrl query', input({ flags: { ...base, apiUrl: 'https://x.example/api/v3?a=1' } }), "Expected `--api-url` to have no query or fragment, got 'https://x.example/api/v3?a=1', e.g. --api-url https://github.example.com/api/v3."],
    ['serverUrl', withFile({ serverUrl: 'github.com' }), `Expected \`serverUrl\` in ${FILE} to be an http(s) URL, got 'github.com', e.g. "serverUrl": "https://github.example.com".`],
    ['layout', input({ flags: { ...base, layout: 'copy' } }), "Expected `--layout` to be one of inplace, symlink, got 'copy'."],
    ['verbose and quiet', input({ flags: { ...base, verbose: true, quiet: true } }), '`--verbose` and `--quiet` contradict each other; use one of them.'],
    ['preserve not an array', withFile({ preserve: 'a' }), `Expected \`preserve\` in ${FILE} to be an array of strings, got 'a'.`],
    ['preserve entry', withFile({ preserve: ['a', 3] }), `Expected every entry of \`preserve\` in ${FILE} to be a non-empty string, got 3 at index 1.`],
    ['preserve absolute', withFile({ preserve: ['/etc/x'] }), `Invalid glob '/etc/x' in \`preserve\` in ${FILE}: globs are relative to DEST; drop the leading '/'.`],
    ['preserve ..', input({ flags: { ...base, preserve: '../x' } }), "Invalid glob '../x' in `--preserve`: globs match inside DEST and cannot contain '..'."],
    ['preserve unbalanced', input({ flags: { ...base, preserve: ['hosts/[ab'] } }), 'Invalid glob \'hosts/[ab\' in `--preserve`: Missing closing: "]" - use "\\\\]" to match literal characters.'],
    ['owner', input({ flags: { ...base, owner: 'bad name' } }), "Expected `--owner` to be a user name or numeric id, got 'bad name', e.g. --owner root."],
    ['group', withFile({ group: '-wheel' }), `Expected \`group\` in ${FILE} to be a group name or numeric id, got '-wheel', e.g. "group": "wheel".`],
    ['preset', withFile({ preset: 'nixos-hypervisr' }), `Unknown preset 'nixos-hypervisr' in ${FILE}. Known presets: nixos-hypervisor. Did you mean 'nixos-hypervisor'?`],
    ['state dir inside dest', input({ flags: { ...base, stateDir: '/etc/hypervisor/.hostsync' } }), "The state directory '/etc/hypervisor/.hostsync' is inside the destination '/etc/hypervisor'; hostsync would sync over its own history. Choose another with --state-dir, e.g. --state-dir /var/lib/hostsync."],
    ['file not an object', withFile([1]), `Expected ${FILE} to hold a JSON object, got an array.`],
    ['rebuild not an object', withFile({ rebuild: 'make' }), `Expected \`rebuild\` in ${FILE} to be an object like {"command": "..."}, got 'make'.`],
    ['rebuild without command', withFile({ rebuild: { when: 'always' } }), `Expected \`rebuild\` in ${FILE} to have a "command", e.g. "command": "nixos-rebuild switch".`],
    ['rebuild flag without command', input({ flags: { ...base, rebuildWhen: 'always' } }), '`--rebuild-when` needs a rebuild command: add --rebuild COMMAND, or "rebuild": {"command": "..."} to the config file.'],
    ['rebuild.when', withFile({ rebuild: { command: 'make', when: 'sometimes' } }), `Expected \`rebuild.when\` in ${FILE} to be one of changed, always, never, got 'sometimes'.`],
    ['rebuild.timeoutSec', withFile({ rebuild: { command: 'make', timeoutSec: 0 } }), `Expected \`rebuild.timeoutSec\` in ${FILE} to be an integer from 1 to 86400, got 0.`],
    ['hooks not an object', withFile({ hooks: [] }), `Expected \`hooks\` in ${FILE} to be an object like {"preSync": "...", "postSync": "..."}, got an array.`],
    ['hooks.preSync', withFile({ hooks: { preSync: false } }), `Expected \`hooks.preSync\` in ${FILE} to be a string, got false.`],
    ['checks not an array', withFile({ checks: {} }), `Expected \`checks\` in ${FILE} to be an array of objects like {"type": "..."}, got an object.`],
    ['checks entry', withFile({ checks: ['x'] }), `Expected \`checks[0]\` in ${FILE} to be an object like {"type": "..."}, got 'x'.`],
    ['checks type missing', withFile({ checks: [{ path: 'x' }] }), `\`checks[0]\` in ${FILE} has no \`type\`; name the check, e.g. {"type": "..."}.`],
    ['checks type empty', withFile({ checks: [{ type: '' }] }), `Expected \`checks[0].type\` in ${FILE} to be a non-empty string naming a check, got ''.`],
  ])('%s', (_name, given, message) => {
    expect(errors(parseConfig(given))).toEqual([message]);
  });

  it('collects every error instead of stopping at the first', () => {
    const result = parseConfig(input({ flags: { repo: 'acme', dest: '/d', concurrency: '0', ref: 'a..b', layout: 'x' } }));
    expect(errors(result)).toHaveLength(4);
  });
});

describe('unknown keys', () => {
  it.each([
    ['destt', 'Unknown key `destt` in /etc/hostsync/config.json. Did you mean `dest`?'],
    ['state-dir', 'Unknown key `state-dir` in /etc/hostsync/config.json. Did you mean `stateDir`?'],
    ['api_url', 'Unknown key `api_url` in /etc/hostsync/config.json. Did you mean `apiUrl`?'],
    ['concurency', 'Unknown key `concurency` in /etc/hostsync/config.json. Did you mean `concurrency`?'],
    ['histroyLimit', 'Unknown key `histroyLimit` in /etc/hostsync/config.json. Did you mean `historyLimit`?'],
    ['token', 'Unknown key `token` in /etc/hostsync/config.json. hostsync never reads a token from the config file: put it in a file only you can read (chmod 600) and set "tokenFile" to its path.'],
  ])('%s', (key, message) => {
    expect(errors(parseConfig(withFile({ [key]: 1 })))).toEqual([message]);
  });

  it('lists the known keys when nothing is close', () => {
    const [message] = errors(parseConfig(withFile({ zzzzzzzz: 1 })));
    expect(message).toMatch(/^Unknown key `zzzzzzzz` in \/etc\/hostsync\/config\.json\. Remove it; known keys are repo, ref, dest, path, /);
  });

  it('checks keys of nested sections', () => {
    expect(errors(parseConfig(withFile({ rebuild: { command: 'x', timeout: 5 }, hooks: { presync: 'x' } })))).toEqual([
      'Unknown key `rebuild.timeout` in /etc/hostsync/config.json. Did you mean `rebuild.timeoutSec`?',
      'Unknown key `hooks.presync` in /etc/hostsync/config.json. Did you mean `hooks.preSync`?',
    ]);
  });

  it('allows $schema', () => {
    expect(parseConfig(withFile({ $schema: './config.schema.json' })).ok).toBe(true);
  });
});

describe('switches', () => {
  it.each([
    ['flag', { flags: { repo: 'a/b', dest: '/d', prune: true } }, true],
    ['flag string', { flags: { repo: 'a/b', dest: '/d', prune: 'false' } }, false],
    ['file', { file: { path: FILE, data: { prune: true } } }, true],
    ['flag false beats file true', { flags: { repo: 'a/b', dest: '/d', prune: false }, file: { path: FILE, data: { prune: true } } }, false],
    ['env 1', { env: { HOSTSYNC_PRUNE: '1' } }, true],
    ['env no', { env: { HOSTSYNC_PRUNE: 'no' } }, false],
    ['env empty is unset', { env: { HOSTSYNC_PRUNE: '' } }, false],
  ])('prune from %s', (_name, over, expected) => {
    expect(config(parseConfig(input(over))).prune).toBe(expected);
  });

  it('a higher layer settles verbose vs quiet', () => {
    const c = config(parseConfig(withFile({ quiet: true }, { flags: { repo: 'a/b', dest: '/d', verbose: true } })));
    expect([c.verbose, c.quiet]).toEqual([true, false]);
  });
});

describe('sections', () => {
  it('rebuild from the file, with defaults', () => {
    const c = config(parseConfig(withFile({ rebuild: { command: 'nixos-rebuild switch' } })));
    expect(c.rebuild).toEqual({ command: 'nixos-rebuild switch', when: 'changed', timeoutSec: 1800, rollbackOnFailure: false });
  });

  it('rebuild flags override file fields one by one', () => {
    const flags = { repo: 'a/b', dest: '/d', rebuild: 'make', rebuildTimeoutSec: '60', rebuildRollbackOnFailure: true };
    const c = config(parseConfig(withFile({ rebuild: { command: 'x', when: 'always', timeoutSec: 5 } }, { flags })));
    expect(c.rebuild).toEqual({ command: 'make', when: 'always', timeoutSec: 60, rollbackOnFailure: true });
  });

  it('--no-rebuild turns a configured rebuild off; cac\'s implicit `true` does not', () => {
    const file = { rebuild: { command: 'make' } };
    expect(config(parseConfig(withFile(file, { flags: { repo: 'a/b', dest: '/d', rebuild: false } }))).rebuild).toBeUndefined();
    expect(config(parseConfig(withFile(file, { flags: { repo: 'a/b', dest: '/d', rebuild: true } }))).rebuild?.command).toBe('make');
  });

  it('hooks from file and flags', () => {
    const c = config(parseConfig(withFile({ hooks: { preSync: 'a', postSync: 'b' } }, { flags: { repo: 'a/b', dest: '/d', postSync: 'c' } })));
    expect(c.hooks).toEqual({ preSync: 'a', postSync: 'c' });
  });

  it('checks keep their own fields', () => {
    const checks = [{ type: 'file-exists', path: 'flake.nix' }, { type: 'nix-flake-check', timeoutSec: 600 }];
    expect(config(parseConfig(withFile({ checks }))).checks).toEqual(checks);
  });

  it('preserve globs are normalised and deduplicated', () => {
    const c = config(parseConfig(withFile({ preserve: ['./hosts/*/hardware-configuration.nix', 'hosts/*/hardware-configuration.nix', 'secrets/**'] })));
    expect(c.preserve).toEqual(['hosts/*/hardware-configuration.nix', 'secrets/**']);
  });

  it('repeated --preserve flags replace the file list', () => {
    const flags = { repo: 'a/b', dest: '/d', preserve: ['x', 'y'] };
    expect(config(parseConfig(withFile({ preserve: ['z'] }, { flags }))).preserve).toEqual(['x', 'y']);
  });

  it('owner and group as names or ids; a warning when not root', () => {
    const result = parseConfig(input({ flags: { repo: 'a/b', dest: '/d', owner: 'root', group: 100 } }));
    expect([config(result).owner, config(result).group]).toEqual(['root', '100']);
    expect(result.warnings).toEqual([
      '`--owner` is set, but hostsync is not running as root: files will belong to the user running it.',
      '`--group` is set, but hostsync is not running as root: files will belong to the user running it.',
    ]);
    expect(parseConfig(input({ isRoot: true, flags: { repo: 'a/b', dest: '/d', owner: '0' } })).warnings).toEqual([]);
  });

  it('records the config file', () => {
    expect(config(parseConfig(withFile({}))).configFile).toBe(FILE);
  });
});

describe('requirements', () => {
  it('repo and dest may be optional', () => {
    const result = parseConfig(input({ flags: {}, require: { repo: false, dest: false } }));
    const c = config(result);
    expect([c.repo, c.repoOwner, c.repoName, c.dest]).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('an optional repo is still validated when given', () => {
    expect(errors(parseConfig(input({ flags: { repo: 'x', dest: '/d' }, require: { repo: false } })))).toHaveLength(1);
  });

  it('dest alone', () => {
    expect(errors(parseConfig(input({ flags: {}, require: { repo: false } })))).toEqual([
      'Missing destination directory: give it with --dest DIR, "dest" in the config file, or HOSTSYNC_DEST.',
    ]);
  });
});

describe('the token', () => {
  const token: Token = { value: 'ghp_SECRETSECRETSECRET', source: 'GITHUB_TOKEN' };

  it('is passed through', () => {
    expect(config(parseConfig(input({ token }))).token).toBe(token);
  });

  it('never appears in a message, even when pasted into another setting', () => {
    const result = parseConfig(input({ token, flags: { repo: token.value, dest: '/d', ref: `${token.value}..x`, layout: token.value } }));
    const text = [...errors(result), ...result.warnings].join('\n');
    expect(text).toContain('***');
    expect(text).not.toContain(token.value);
  });
});
