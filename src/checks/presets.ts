/**
 * Presets: named lists of checks (as config data) for a kind of host. Each has an `id` so a
 * config can replace or disable it (`{"type": "required", "id": "nixos-host-config", ...}`).
 */
import type { CheckConfig } from '../config/types.js';

/** The checks of each preset, by name. */
export const PRESETS: Readonly<Record<string, readonly CheckConfig[]>> = {
  'nixos-hypervisor': [
    { type: 'required', id: 'nixos-flake', files: ['flake.nix', 'flake.lock'] },
    { type: 'json', id: 'nixos-flake-lock', paths: ['flake.lock'] },
    { type: 'nix', id: 'nixos-nix', features: ['nix-command', 'flakes'] },
    { type: 'device', id: 'nixos-kvm', path: '/dev/kvm' },
    { type: 'required', id: 'nixos-host-config', dirs: ['hosts/{hostname}'] },
  ],
};
