/**
 * `npm run build:binary`: build dist/hostsync, one file that runs on a Linux host with no Node
 * installed — a Node single executable application (https://nodejs.org/docs/latest-v20.x/api/single-executable-applications.html).
 *
 *   src/cli/main.ts ─esbuild─▶ hostsync.cjs ─node --experimental-sea-config─▶ sea-prep.blob
 *   copy of this node (optionally stripped) ─postject NODE_SEA_BLOB─▶ dist/hostsync
 *
 * Node 20's SEA runs one CommonJS script whose `require` only loads built-in modules, so
 * everything (octokit, undici, cac, kleur, p-retry, p-limit, picomatch, tar) is bundled into it,
 * and so are the unit files of systemd/ (an esbuild `define`), which `install-units` writes.
 * The result embeds the node that runs this script: build with the Node version you want to ship.
 * docs/binary.md has sizes, start-up times and caveats.
 *
 * Usage: node --import tsx scripts/build-binary.ts [--out FILE] [--no-strip]
 */
import { spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { EMBEDDED_UNITS_DEFINE, readUnitFiles } from '../src/units/texts.js';
import { SEA_BUNDLE_ASSET } from '../src/boot/code-cache.js';

/** The sentinel postject flips so that node looks for the injected blob. */
export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** The repository root (this file lives in scripts/). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface BuildBinaryOptions {
  /** Where the executable goes. @default <root>/dist/hostsync */
  readonly out?: string | undefined;
  /** Strip the copied node's symbols first (about 12 MB smaller) when `strip` is on PATH. @default true */
  readonly strip?: boolean | undefined;
  /** The node binary to embed. @default process.execPath */
  readonly node?: string | undefined;
  /** Progress lines. @default none */
  readonly log?: ((line: string) => void) | undefined;
}

export interface BuildBinaryResult {
  readonly path: string;
  /** Size of the executable. */
  readonly bytes: number;
  /** Size of the bundled JavaScript. */
  readonly bundleBytes: number;
  /** Modules in the bundle. */
  readonly modules: number;
  readonly stripped: boolean;
  readonly durationMs: number;
}

/**
 * Whether `node` can become a single executable: Node ≥ 20 with the unflipped SEA fuse
 * (absent from builds configured without SEA, flipped in a binary already injected).
 */
export async function seaSupport(node: string = process.execPath, version: string = process.versions.node): Promise<{ ok: true } | { ok: false; reason: string }> {
  const major = Number(version.split('.')[0]);
  if (!(major >= 20)) return { ok: false, reason: `Node ${version} has no single-executable support; build with Node 20 or later.` };
  const text = (await readFile(node)).toString('latin1');
  if (text.includes(`${SEA_FUSE}:1`)) return { ok: false, reason: `${node} is already a single executable (its SEA fuse is flipped); build with a plain node.` };
  if (!text.includes(`${SEA_FUSE}:0`)) return { ok: false, reason: `${node} lacks the SEA fuse ${SEA_FUSE} (built without single-executable support); use an official Node build.` };
  return { ok: true };
}

/** The tiny entry: the CLI's `main`, the same call bin/hostsync.js makes. */
const ENTRY = "import { main } from './src/cli/main.ts';\nvoid main(process.argv);\n";

/**
 * The esbuild `define`s of the bundle: no `import.meta.url` in CommonJS, and the unit files of
 * systemd/ as the texts `install-units` writes (src/units/texts.ts reads them from
 * {@link EMBEDDED_UNITS_DEFINE}; a single executable has no package folder to read them from).
 */
export async function bundleDefines(root: string = ROOT): Promise<Record<string, string>> {
  return {
    // Code that reads import.meta.url gets undefined and takes its "no package folder" path.
    'import.meta.url': 'undefined',
    [EMBEDDED_UNITS_DEFINE]: JSON.stringify(await readUnitFiles(path.join(root, 'systemd'))),
  };
}

/** Bundle the CLI into one CommonJS file that requires only Node built-ins. */
export async function bundle(outfile: string): Promise<{ bytes: number; modules: number }> {
  const result = await build({
    stdin: { contents: ENTRY, resolveDir: ROOT, sourcefile: 'sea-entry.ts', loader: 'ts' },
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    define: await bundleDefines(),
    // Whitespace and syntax only: identifiers stay, so a bug's stack trace still names functions.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  const external = Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external && !isBuiltin(i.path)).map((i) => i.path));
  if (external.length > 0) throw new Error(`The bundle requires modules a single executable cannot load: ${[...new Set(external)].join(', ')}.`);
  // A dynamic import() of a module esbuild leaves outside the bundle (a node: builtin) stays an import()
  // in CommonJS, which a single executable cannot run ("A dynamic import callback was not specified").
  const dynamic = Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external && i.kind === 'dynamic-import').map((i) => i.path));
  if (dynamic.length > 0) throw new Error(`The bundle imports ${[...new Set(dynamic)].join(', ')} with import(), which a single executable cannot run; import it statically.`);
  return { bytes: (await stat(outfile)).size, modules: Object.keys(result.metafile.inputs).length };
}

/** The single executable's entry (src/boot/sea-entry.ts) as one CommonJS file of Node built-ins only. */
async function bundleEntry(outfile: string): Promise<void> {
  const result = await build({
    entryPoints: [path.join(ROOT, 'src', 'boot', 'sea-entry.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    metafile: true,
    logLevel: 'warning',
  });
  const external = Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external && !isBuiltin(i.path)).map((i) => i.path));
  if (external.length > 0) throw new Error(`The executable's entry requires modules a single executable cannot load: ${[...new Set(external)].join(', ')}.`);
}

function isBuiltin(id: string): boolean {
  return id.startsWith('node:') || builtinModules.includes(id);
}

/** Run a program, collecting its output; reject with that output when it fails. */
function run(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      code === 0 ? resolve(output) : reject(new Error(`${path.basename(command)} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${output}`)),
    );
  });
}

async function onPath(program: string): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, program);
    try {
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Build the single executable. Throws with a message saying what failed. */
export async function buildBinary(options: BuildBinaryOptions = {}): Promise<BuildBinaryResult> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const node = options.node ?? process.execPath;
  const out = path.resolve(options.out ?? path.join(ROOT, 'dist', 'hostsync'));
  const support = await seaSupport(node);
  if (!support.ok) throw new Error(support.reason);

  const work = await mkdtemp(path.join(tmpdir(), 'hostsync-sea-'));
  try {
    const script = path.join(work, 'hostsync.cjs');
    const { bytes: bundleBytes, modules } = await bundle(script);
    log(`bundled ${modules} modules into ${(bundleBytes / 1024).toFixed(0)} KiB of CommonJS`);

    // The executable's entry compiles the bundle (an asset) with the run-time code cache of
    // bin/hostsync.js (src/boot/sea-entry.ts); V8's build-time cache covers the small entry itself.
    const entry = path.join(work, 'sea-entry.cjs');
    await bundleEntry(entry);
    const blob = path.join(work, 'sea-prep.blob');
    const seaConfig = path.join(work, 'sea-config.json');
    await writeFile(seaConfig, JSON.stringify({ main: entry, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, assets: { [SEA_BUNDLE_ASSET]: script } }));
    await run(node, ['--experimental-sea-config', seaConfig]);
    log(`prepared the SEA blob (${((await stat(blob)).size / 1024).toFixed(0)} KiB: the entry with its code cache, the bundle as an asset)`);

    await mkdir(path.dirname(out), { recursive: true });
    const partial = path.join(path.dirname(out), `.${path.basename(out)}.partial-${process.pid}`);
    await copyFile(node, partial);
    await chmod(partial, 0o755);
    let stripped = false;
    const strip = options.strip === false ? undefined : await onPath('strip');
    if (strip !== undefined) {
      await run(strip, ['--strip-all', partial]);
      stripped = true;
    }
    // postject's ELF writer prints harmless "Can't find string offset for section name" warnings; shown only on failure.
    const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
    try {
      await run(node, [postject, partial, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
      await verify(partial);
      await rename(partial, out);
    } finally {
      await rm(partial, { force: true });
    }
    const bytes = (await stat(out)).size;
    log(`wrote ${out} (${(bytes / 1024 / 1024).toFixed(1)} MiB${stripped ? ', stripped' : ''})`);
    return { path: out, bytes, bundleBytes, modules, stripped, durationMs: Date.now() - started };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The new executable must start and print its version with nothing from the environment. */
async function verify(executable: string): Promise<void> {
  // No code cache: a build must not write one where the build machine's own runs keep theirs.
  const output = (await run(executable, ['--version'], { HOSTSYNC_CODE_CACHE: '0' })).trim();
  if (!/^hostsync\/\d+\.\d+\.\d+/.test(output)) throw new Error(`The built executable printed '${output}' for --version, expected hostsync/<version>.`);
}

async function cli(argv: readonly string[]): Promise<void> {
  let out: string | undefined;
  let strip = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--out') out = argv[++i];
    else if (arg?.startsWith('--out=') === true) out = arg.slice('--out='.length);
    else if (arg === '--no-strip') strip = false;
    else throw new Error(`Unknown argument '${arg}'. Usage: build-binary [--out FILE] [--no-strip]`);
  }
  const result = await buildBinary({ out, strip, log: (line) => process.stderr.write(`build-binary: ${line}\n`) });
  process.stderr.write(`build-binary: done in ${(result.durationMs / 1000).toFixed(1)} s\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  cli(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`build-binary: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
