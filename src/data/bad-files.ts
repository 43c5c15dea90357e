/**
 * What a data-reading command does with a file it cannot use. Default: stop with one line naming the file and the
 * reason. With `--skip-bad-files`: skip it, log it once, and count it in the summary (`bad_files`).
 */

export interface BadFile {
  file: string;
  reason: string;
}

export class BadFiles {
  private readonly byFile = new Map<string, string>();

  constructor(
    readonly skip = false,
    private readonly log: (msg: string) => void = () => {},
  ) {}

  /** Skipping: record `file` (once) and return; otherwise rethrow `err`, the one-line error naming the file. */
  handle(file: string, err: unknown): void {
    if (!this.skip) throw err;
    if (this.byFile.has(file)) return;
    const msg = err instanceof Error ? err.message : String(err);
    const reason = msg.startsWith(`${file}: `) ? msg.slice(file.length + 2) : msg;
    this.byFile.set(file, reason);
    this.log(`[mff] --skip-bad-files: skipping ${file}: ${reason}`);
  }

  has(file: string): boolean {
    return this.byFile.has(file);
  }

  get count(): number {
    return this.byFile.size;
  }

  /** For summary.json: how many files were skipped, and which (the first `max`). */
  summary(max = 100): { skipped: number; files: BadFile[] } {
    const files = [...this.byFile].slice(0, max).map(([file, reason]) => ({ file, reason }));
    return { skipped: this.byFile.size, files };
  }
}

/** The policy of a run: strict unless `skip`. */
export function badFilePolicy(skip: boolean | undefined, log: (msg: string) => void): BadFiles {
  return new BadFiles(Boolean(skip), log);
}
