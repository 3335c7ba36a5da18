/**
 * A fake terminal for rendering tests: a write-only stream that records what was written and
 * replays it like a terminal would (carriage return, erase line, line feed), so tests assert on
 * the screen a person sees rather than on escape sequences.
 */
import type { Scheduler, TextStream } from '../../src/cli/progress.js';

export interface FakeTerminal extends TextStream {
  readonly raw: string[];
  /** The screen's lines, the cursor's (possibly partial) line last. */
  screen(): string[];
}

/** A terminal `columns` wide (the stream says isTTY = true unless told otherwise). */
export function createFakeTerminal(columns = 80, isTTY = true): FakeTerminal {
  const raw: string[] = [];
  return {
    isTTY,
    columns,
    raw,
    write(text: string) {
      raw.push(text);
      return true;
    },
    screen() {
      const lines: string[] = [''];
      let col = 0;
      const text = raw.join('');
      for (let i = 0; i < text.length; i++) {
        const rest = text.slice(i);
        const erase = /^\x1b\[2K/.exec(rest);
        if (erase !== null) {
          lines[lines.length - 1] = '';
          i += erase[0].length - 1;
          continue;
        }
        const ansi = /^\x1b\[[0-9;?]*[ -/]*[@-~]/.exec(rest);
        if (ansi !== null) {
          i += ansi[0].length - 1; // colours: not part of the text
          continue;
        }
        const c = text[i]!;
        if (c === '\r') col = 0;
        else if (c === '\n') {
          lines.push('');
          col = 0;
        } else {
          const line = lines[lines.length - 1]!;
          lines[lines.length - 1] = line.slice(0, col).padEnd(col, ' ') + c + line.slice(col + 1);
          col++;
        }
      }
      return lines;
    },
  };
}

/** A clock and a scheduler the test drives: `advance(ms)` runs the timers that fall due. */
export function createManualTime(start = 1_000_000): { now: () => number; schedule: Scheduler; advance(ms: number): void; timers(): number } {
  let now = start;
  const timers = new Set<{ tick: () => void; every: number; next: number }>();
  return {
    now: () => now,
    schedule(tick, every) {
      const timer = { tick, every, next: now + every };
      timers.add(timer);
      return () => timers.delete(timer);
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...timers].filter((t) => t.next <= end).sort((a, b) => a.next - b.next)[0];
        if (due === undefined) break;
        now = due.next;
        due.next += due.every;
        due.tick();
      }
      now = end;
    },
    timers: () => timers.size,
  };
}
