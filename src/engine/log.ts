/**
 * metrics.jsonl: one JSON object per line, appended as training goes (as MAE's log.txt). Non-finite numbers are
 * stored as null (JSON has no NaN). On resume, lines past the restored iteration are dropped.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ensureDir, writeError, writeFileAtomic } from '../io/atomic.js';

export type MetricsEntry = Record<string, number | string | null | boolean | number[]>;

export class MetricsLog {
  constructor(readonly file: string) {
    ensureDir(dirname(file));
  }

  append(entry: MetricsEntry): void {
    try {
      appendFileSync(this.file, JSON.stringify(entry) + '\n');
    } catch (err) {
      throw writeError(this.file, err, '; lines written before are kept (a torn last line is ignored on --resume)');
    }
  }

  /**
   * All entries in order. A final line cut short by a crash (no trailing newline, not valid JSON) is ignored;
   * any other malformed line throws, naming the file and line.
   */
  read<T = Record<string, number>>(): T[] {
    return this.parse().entries as T[];
  }

  /** Drop entries whose `iter` is greater than `iter` (and a torn final line); `truncateAfter(-1)` empties the log. */
  truncateAfter(iter: number): void {
    if (!existsSync(this.file)) return;
    const keep = this.parse().entries.filter((e) => !(typeof e.iter === 'number' && e.iter > iter));
    writeFileAtomic(this.file, keep.map((e) => JSON.stringify(e) + '\n').join(''));
  }

  private parse(): { entries: MetricsEntry[] } {
    if (!existsSync(this.file)) return { entries: [] };
    const text = readFileSync(this.file, 'utf8');
    const lines = text.split('\n');
    const torn = !text.endsWith('\n');
    const entries: MetricsEntry[] = [];
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        entries.push(JSON.parse(line) as MetricsEntry);
      } catch (e) {
        if (torn && i === lines.length - 1) return;
        throw new Error(`${this.file}:${i + 1}: not a JSON line (${(e as Error).message})`);
      }
    });
    return { entries };
  }
}
