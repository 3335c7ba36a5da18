/** The runner: crash handling, the fix pass, the re-run and what `fixed` means. */
import { describe, expect, it } from 'vitest';
import { HostsyncError } from '../../src/errors.js';
import { runValidation } from '../../src/checks/runner.js';
import type { Check, CheckContext, CheckOutcome } from '../../src/checks/types.js';

/** A check over a shared mutable "world": broken until its fix runs. */
function fakeCheck(id: string, world: Set<string>, options: { fixable?: boolean; fixThrows?: boolean; status?: 'fail' | 'warn' } = {}): Check {
  return {
    id,
    type: 'fake',
    run: async (): Promise<CheckOutcome> =>
      world.has(id) ? { status: options.status ?? 'fail', message: `${id} broken`, paths: [id], fixable: options.fixable ?? true } : { status: 'pass', message: `${id} fine`, paths: [], fixable: false },
    fix: async () => {
      if (options.fixThrows === true) throw new HostsyncError(`cannot fix ${id}`);
      world.delete(id);
      return `fixed ${id}`;
    },
  };
}

const context = async (): Promise<CheckContext> => ({}) as CheckContext;

describe('runValidation', () => {
  it('without --fix: reports, changes nothing, fails on a failing check only', async () => {
    const world = new Set(['a', 'w']);
    const report = await runValidation([fakeCheck('a', world), fakeCheck('w', world, { status: 'warn' }), fakeCheck('ok', world)], context, { fix: false });
    expect(report.ok).toBe(false);
    expect(report.checks.map((c) => [c.id, c.status, c.fixed])).toEqual([
      ['a', 'fail', false],
      ['w', 'warn', false],
      ['ok', 'pass', false],
    ]);
    expect(world).toEqual(new Set(['a', 'w']));
  });

  it('warnings alone are ok', async () => {
    const world = new Set(['w']);
    expect((await runValidation([fakeCheck('w', world, { status: 'warn', fixable: false })], context, { fix: false })).ok).toBe(true);
  });

  it('with --fix: repairs, runs again, marks what was fixed and keeps what remains', async () => {
    const world = new Set(['a', 'b', 'c']);
    const fixes: string[] = [];
    const report = await runValidation(
      [fakeCheck('a', world), fakeCheck('b', world, { fixable: false }), fakeCheck('c', world, { fixThrows: true })],
      context,
      { fix: true, onFix: (id, ok) => fixes.push(`${id}:${ok}`) },
    );
    expect(fixes).toEqual(['a:true', 'c:false']);
    expect(report.checks.map((c) => [c.id, c.status, c.fixed])).toEqual([
      ['a', 'pass', true],
      ['b', 'fail', false],
      ['c', 'fail', false],
    ]);
    expect(report.checks[2]?.message).toContain('(--fix failed: cannot fix c)');
    expect(report.ok).toBe(false);
  });

  it('a problem repaired by an earlier fix is not fixed twice', async () => {
    const world = new Set(['first', 'second']);
    const first: Check = { ...fakeCheck('first', world), fix: async () => (world.clear(), 'fixed both') };
    let secondFixes = 0;
    const second: Check = { ...fakeCheck('second', world), fix: async () => `${++secondFixes}` };
    const report = await runValidation([first, second], context, { fix: true });
    expect(secondFixes).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.fixed)).toEqual([true, true]);
  });

  it('an expected failure inside a check is that check failing; a bug propagates', async () => {
    const crash: Check = { id: 'x', type: 'x', run: async () => Promise.reject(new HostsyncError('disk on fire')) };
    const report = await runValidation([crash], context, { fix: false });
    expect(report.checks[0]).toMatchObject({ status: 'fail', message: 'The check could not run: disk on fire' });
    const bug: Check = { id: 'y', type: 'y', run: async () => Promise.reject(new TypeError('oops')) };
    await expect(runValidation([bug], context, { fix: false })).rejects.toThrow(TypeError);
  });
});
