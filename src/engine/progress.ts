/**
 * Training progress on stderr: `label  iter/total  pct  ETA  key value ...`. On a TTY a single line redrawn in place
 * (\r, at most ~5 times a second); otherwise a plain line every `every` iterations and at the end, readable in CI logs.
 * ETA uses the mean speed since this process started (iterations before `startIter` were done by an earlier run).
 */

export interface ProgressOptions {
  total: number;
  every?: number;
  label?: string;
  startIter?: number;
  /** Defaults to process.stderr. */
  stream?: { write(s: string): unknown; isTTY?: boolean };
  /** Milliseconds clock (tests). */
  now?: () => number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

function fieldText(v: number | string): string {
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
}

export class Progress {
  private readonly total: number;
  private readonly every: number;
  private readonly label: string;
  private readonly startIter: number;
  private readonly stream: { write(s: string): unknown; isTTY?: boolean };
  private readonly now: () => number;
  private readonly t0: number;
  private lastDraw = -Infinity;
  private lastLine = '';
  /** The line on screen (TTY): done() only ends it when it already shows the last state. */
  private shownLine = '';
  private lastIter = -1;
  private drawn = false;

  constructor(opts: ProgressOptions) {
    if (!(opts.total >= 0)) throw new Error(`Progress: total must be >= 0, got ${opts.total}`);
    this.total = opts.total;
    this.every = Math.max(1, Math.floor(opts.every ?? 10));
    this.label = opts.label ?? '';
    this.startIter = opts.startIter ?? 0;
    this.stream = opts.stream ?? process.stderr;
    this.now = opts.now ?? (() => performance.now());
    this.t0 = this.now();
  }

  private get tty(): boolean {
    return Boolean(this.stream.isTTY);
  }

  /** The line for `iter` completed iterations (exported for tests and for callers that log it elsewhere). */
  line(iter: number, fields: Record<string, number | string> = {}): string {
    const elapsed = (this.now() - this.t0) / 1000;
    const done = iter - this.startIter;
    const rate = done > 0 && elapsed > 0 ? done / elapsed : NaN;
    const eta = (this.total - iter) / rate;
    const width = String(this.total).length;
    const pct = this.total > 0 ? ((100 * iter) / this.total).toFixed(1).padStart(5) : '  -  ';
    const parts = [
      `${this.label ? this.label + '  ' : ''}${String(iter).padStart(width)}/${this.total}  ${pct}%`,
      `elapsed ${formatDuration(elapsed)}`,
      `ETA ${iter >= this.total ? '0:00' : formatDuration(eta)}`,
      ...Object.entries(fields).map(([k, v]) => `${k} ${fieldText(v)}`),
    ];
    return parts.join('  ');
  }

  /** `iter` = iterations completed so far (1..total). */
  update(iter: number, fields: Record<string, number | string> = {}): void {
    this.lastIter = iter;
    if (this.tty) {
      const t = this.now();
      if (t - this.lastDraw < 200 && iter < this.total) {
        this.lastLine = this.line(iter, fields);
        return;
      }
      this.lastDraw = t;
      this.lastLine = this.line(iter, fields);
      this.stream.write(`\r${this.lastLine}\x1b[K`);
      this.shownLine = this.lastLine;
      this.drawn = true;
    } else {
      this.lastLine = this.line(iter, fields);
      if (iter % this.every === 0 || iter === this.total) {
        this.stream.write(this.lastLine + '\n');
        this.drawn = true;
      } else {
        this.drawn = false;
      }
    }
  }

  /** Finish: on a TTY end the line (redrawn first if it does not show the last state); otherwise print the last state if it was skipped. */
  done(): void {
    if (this.lastIter < 0) return;
    // the final line once: redrawing a line a narrow terminal wrapped would print its first rows twice
    if (this.tty) this.stream.write(this.shownLine === this.lastLine ? '\n' : `\r${this.lastLine}\x1b[K\n`);
    else if (!this.drawn) this.stream.write(this.lastLine + '\n');
    this.lastIter = -1;
  }
}
