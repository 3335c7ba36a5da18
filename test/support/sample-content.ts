/**
 * The content of the sample repository: a pure, deterministic list of files that looks like a small
 * NixOS fleet configuration. Randomness comes from a seeded PRNG, so every run yields the same bytes.
 */

/** One entry of the sample tree: a file (with content and exec bit) or a symlink. */
export interface SampleEntry {
  readonly path: string;
  readonly content: string | Uint8Array;
  readonly exec: boolean;
  /** When set, the entry is a symlink to this target and `content` is ignored. */
  readonly symlink?: string;
}

/** Options of {@link sampleContent}. */
export interface SampleContentOptions {
  /** Size of the pseudo-random binary `assets/firmware.bin`. @default 2 MiB */
  readonly binaryBytes?: number;
  /** PRNG seed. @default 42 */
  readonly seed?: number;
}

/** mulberry32: a tiny, fast, seedable 32-bit PRNG (good enough for test data, not for crypto). */
export function createPrng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** `length` pseudo-random bytes from `seed`. */
export function pseudoRandomBytes(length: number, seed: number): Buffer {
  const next = createPrng(seed);
  const out = Buffer.alloc(length);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let i = 0;
  for (; i + 4 <= length; i += 4) view.setUint32(i, next(), true);
  for (; i < length; i++) out[i] = next() & 0xff;
  return out;
}

const HOSTS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'] as const;
const HOST_FILES = ['configuration', 'hardware-configuration', 'networking', 'services', 'users'] as const;
const MODULES = ['base', 'desktop', 'server', 'networking', 'security', 'monitoring', 'backup', 'containers'] as const;
const PACKAGES = ['hs-agent', 'logship', 'netcheck', 'kvtool', 'fwupd-lite', 'dnsprobe', 'certbot-hook', 'mqtt-relay'] as const;
const SCRIPTS = ['deploy', 'rebuild', 'backup', 'rotate-logs', 'check-health', 'bootstrap', 'update-flake', 'gc'] as const;
const WORDS = ['enable', 'services', 'package', 'options', 'config', 'lib', 'mkIf', 'mkDefault', 'networking', 'users', 'boot', 'systemd'] as const;

function word(next: () => number): string {
  return WORDS[next() % WORDS.length] ?? 'config';
}

function nixModule(name: string, next: () => number): string {
  const lines = [`# ${name}`, '{ config, lib, pkgs, ... }:', '', 'let', `  cfg = config.hostsync.${name.replace(/[^a-z]/g, '')};`, 'in', '{'];
  const count = 5 + (next() % 25);
  for (let i = 0; i < count; i++) {
    lines.push(`  ${word(next)}.${word(next)}.${word(next)} = lib.${word(next)} ${next() % 2 === 0 ? 'true' : `"${word(next)}-${next() % 1000}"`};`);
  }
  lines.push('}', '');
  return lines.join('\n');
}

function shellScript(name: string, next: () => number): string {
  const lines = ['#!/usr/bin/env bash', `# ${name}: part of the fleet tooling`, 'set -euo pipefail', ''];
  const count = 3 + (next() % 12);
  for (let i = 0; i < count; i++) lines.push(`echo "${name} step ${i}: ${word(next)}"`);
  lines.push('');
  return lines.join('\n');
}

function markdown(title: string, next: () => number): string {
  const paragraphs = 2 + (next() % 5);
  const out = [`# ${title}`, ''];
  for (let p = 0; p < paragraphs; p++) {
    const words = Array.from({ length: 20 + (next() % 60) }, () => word(next));
    out.push(words.join(' '), '');
  }
  return out.join('\n');
}

/** The sample tree, sorted by path. ~150 entries; the binary dominates the size. */
export function sampleContent(opts: SampleContentOptions = {}): SampleEntry[] {
  const seed = opts.seed ?? 42;
  const next = createPrng(seed);
  const files: SampleEntry[] = [];
  const add = (path: string, content: string | Uint8Array, exec = false): void => {
    files.push({ path, content, exec });
  };

  add('README.md', markdown('Fleet configuration', next));
  add('.gitignore', 'result\nresult-*\n*.swp\n');
  add('LICENSE', 'MIT License\n\nCopyright (c) 2024 Hostsync Tests\n');
  add('flake.nix', nixModule('flake', next));
  add('flake.lock', `${JSON.stringify({ nodes: { nixpkgs: { locked: { rev: 'a'.repeat(40), narHash: 'sha256-test' } } }, version: 7 }, null, 2)}\n`);
  add('empty.txt', '');
  for (const host of HOSTS) {
    for (const file of HOST_FILES) add(`hosts/${host}/${file}.nix`, nixModule(`${host}/${file}`, next));
  }
  for (const mod of MODULES) {
    add(`modules/${mod}/default.nix`, nixModule(`modules/${mod}`, next));
    add(`modules/${mod}/options.nix`, nixModule(`modules/${mod}/options`, next));
    add(`modules/${mod}/impl/main.nix`, nixModule(`modules/${mod}/impl`, next));
    add(`modules/${mod}/impl/extra.nix`, nixModule(`modules/${mod}/extra`, next));
  }
  for (const pkg of PACKAGES) {
    add(`pkgs/${pkg}/default.nix`, nixModule(`pkgs/${pkg}`, next));
    add(`pkgs/${pkg}/patches/0001-fix-build.patch`, `--- a/Makefile\n+++ b/Makefile\n@@ -1 +1 @@\n-CC=gcc\n+CC=cc # ${pkg}\n`);
  }
  for (const script of SCRIPTS) add(`scripts/${script}.sh`, shellScript(script, next), true);
  add('scripts/lib/common.sh', shellScript('common', next));
  add('scripts/lib/log.sh', shellScript('log', next));
  add('secrets/README.md', markdown('Secrets (age-encrypted)', next));
  for (let i = 0; i < 6; i++) add(`secrets/host-${i}.age`, pseudoRandomBytes(200 + (next() % 800), seed + i + 1));
  const docs = ['architecture', 'operations', 'onboarding', 'networking', 'backups', 'monitoring', 'incidents', 'faq'];
  for (const doc of docs) add(`docs/${doc}.md`, markdown(doc, next));
  add('docs/release notes.md', markdown('Release notes', next));
  add('docs/café.md', markdown('Café menu — ünïcödé names', next));
  for (let i = 0; i < 6; i++) add(`overlays/overlay-${i}.nix`, nixModule(`overlay-${i}`, next));
  for (const user of ['alice', 'bob']) {
    for (const part of ['home', 'shell', 'git', 'editor']) add(`home/${user}/${part}.nix`, nixModule(`${user}/${part}`, next));
  }
  add('windows/setup.bat', '@echo off\r\nREM CRLF line endings on purpose\r\necho setting up\r\n');
  add('windows/README.txt', 'Windows helpers.\r\nKeep CRLF.\r\n');
  add('assets/firmware.bin', pseudoRandomBytes(opts.binaryBytes ?? 2 * 1024 * 1024, seed));
  for (let i = 0; i < 6; i++) add(`assets/icons/icon-${i}.svg`, `<svg xmlns="http://www.w3.org/2000/svg" width="${16 + i}" height="16"/>\n`);
  add('etc/motd', 'Managed by hostsync. Local changes are overwritten.\n');
  add('etc/ssh/sshd_config', 'PasswordAuthentication no\nPermitRootLogin prohibit-password\n');
  for (let i = 0; i < 5; i++) add(`etc/nginx/sites/site-${i}.conf`, `server { listen ${8080 + i}; }\n`);
  for (let i = 0; i < 6; i++) add(`tests/vm-test-${i}.nix`, nixModule(`tests/${i}`, next));
  for (let i = 0; i < 5; i++) add(`tests/fixtures/case-${i}.json`, `${JSON.stringify({ case: i, expect: word(next) })}\n`);
  add('deep/a/b/c/d/e/f/leaf.txt', 'deeply nested\n');
  files.push({ path: 'current', content: '', exec: false, symlink: 'hosts/alpha' });
  files.push({ path: 'scripts/deploy', content: '', exec: false, symlink: 'deploy.sh' });
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
