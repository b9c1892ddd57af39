// Progress bars with rate and ETA on stderr; quiet (periodic plain lines) when stderr is not a terminal.

export interface ProgressOptions {
  label: string;
  total: number;
  unit?: string;
  /** Minimum milliseconds between redraws. */
  intervalMs?: number;
  stream?: NodeJS.WriteStream;
  /** Suppress all output (library use, tests). */
  silent?: boolean;
}

export class Progress {
  private done = 0;
  private readonly start = Date.now();
  /** Units already done when this bar started counting (a resumed job): not part of the rate. */
  private base = 0;
  private lastDraw = 0;
  private extra = '';
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
  }

  /** Count `n` more units done; `info` is shown after the bar (e.g. "loss 1.23"). */
  tick(n = 1, info?: string): void {
    this.done += n;
    if (info !== undefined) this.extra = info;
    this.maybeDraw(false);
  }

  /** A resumed job starts at `done`: shown in the count, left out of the rate and the ETA. */
  resumedAt(done: number): void {
    this.base = done;
    this.done = done;
  }

  /** Jump to an absolute count (resumed jobs start part-way). */
  set(done: number, info?: string): void {
    this.done = done;
    if (info !== undefined) this.extra = info;
    this.maybeDraw(false);
  }

  finish(info?: string): void {
    if (info !== undefined) this.extra = info;
    this.maybeDraw(true);
    if (this.tty && !this.opts.silent) this.stream.write('\n');
  }

  private maybeDraw(force: boolean): void {
    if (this.opts.silent) return;
    const now = Date.now();
    const interval = this.opts.intervalMs ?? (this.tty ? 100 : 5000);
    if (!force && now - this.lastDraw < interval) return;
    this.lastDraw = now;
    const elapsed = (now - this.start) / 1000;
    const rate = elapsed > 0 ? (this.done - this.base) / elapsed : 0;
    const remain = rate > 0 ? Math.max(0, (this.opts.total - this.done) / rate) : NaN;
    const frac = this.opts.total > 0 ? Math.min(1, this.done / this.opts.total) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    const unit = this.opts.unit ?? 'it';
    const text =
      `${this.opts.label} ${bar} ${this.done}/${this.opts.total} ${unit} ` +
      `${(frac * 100).toFixed(0)}% ${rate.toFixed(rate < 10 ? 2 : 0)} ${unit}/s ` +
      `elapsed ${formatDuration(elapsed)} eta ${formatDuration(remain)}${this.extra ? ` ${this.extra}` : ''}`;
    if (this.tty) this.stream.write(`\r\x1b[2K${text}`);
    else this.stream.write(`${text}\n`);
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}
