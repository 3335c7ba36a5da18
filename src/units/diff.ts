/**
 * A unified diff of two small texts (unit files), as `diff -u` prints it: `---`/`+++` headers,
 * `@@ -a,b +c,d @@` hunks with three lines of context. Pure. The line matching is a longest common
 * subsequence table, fine for files of a few hundred lines; bigger inputs get a one-line summary.
 */

/** Lines per side beyond which no line-by-line diff is computed. */
const MAX_LINES = 4000;
/** Unchanged lines shown around each change. */
const CONTEXT = 3;

type Op = { readonly kind: ' ' | '-' | '+'; readonly line: string };

/** Split into lines, remembering whether the last one ended with a line feed. */
function lines(text: string): string[] {
  if (text === '') return [];
  const parts = text.split('\n');
  if (parts[parts.length - 1] === '') parts.pop();
  else parts[parts.length - 1] += '\n\\ No newline at end of file';
  return parts;
}

/** The edit script from `a` to `b`: kept, removed and added lines in order. */
function editScript(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i++]! });
      j++;
    } else if (i < n && (j === m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push({ kind: '-', line: a[i++]! });
    else ops.push({ kind: '+', line: b[j++]! });
  }
  return ops;
}

/**
 * `diff -u` of `before` (labelled `fromName`) and `after` (`toName`); the empty string when the
 * texts are equal.
 */
export function unifiedDiff(before: string, after: string, fromName: string, toName: string): string {
  if (before === after) return '';
  const a = lines(before);
  const b = lines(after);
  const head = `--- ${fromName}\n+++ ${toName}\n`;
  if (a.length > MAX_LINES || b.length > MAX_LINES) return `${head}(the files differ; too long to show line by line)\n`;
  const ops = editScript(a, b);
  // Group changes whose context overlaps into hunks.
  const changed = ops.map((op, index) => (op.kind === ' ' ? -1 : index)).filter((index) => index >= 0);
  const hunks: { start: number; end: number }[] = [];
  for (const index of changed) {
    const last = hunks[hunks.length - 1];
    if (last !== undefined && index - CONTEXT <= last.end + CONTEXT) last.end = index;
    else hunks.push({ start: index, end: index });
  }
  let out = head;
  for (const hunk of hunks) {
    const from = Math.max(0, hunk.start - CONTEXT);
    const to = Math.min(ops.length - 1, hunk.end + CONTEXT);
    // Line numbers where the hunk starts on each side: lines of that side before `from`, plus one.
    let aLine = 0;
    let bLine = 0;
    for (let k = 0; k < from; k++) {
      if (ops[k]!.kind !== '+') aLine++;
      if (ops[k]!.kind !== '-') bLine++;
    }
    const body = ops.slice(from, to + 1);
    const aCount = body.filter((op) => op.kind !== '+').length;
    const bCount = body.filter((op) => op.kind !== '-').length;
    const range = (start: number, count: number): string => (count === 1 ? `${start + 1}` : `${count === 0 ? start : start + 1},${count}`);
    out += `@@ -${range(aLine, aCount)} +${range(bLine, bCount)} @@\n`;
    for (const op of body) out += `${op.kind}${op.line}\n`;
  }
  return out;
}
