// Progress of the offline tools: one redrawn bar on a terminal, plain throttled lines otherwise (CI logs,
// pipes). Log lines go through it too, so they never tear the bar. Formatting is pure and tested.

export interface ProgressState {
  /** Units done (packages, or bytes for export/import). */
  readonly done: number;
  /** Units known so far; null when unknown. Prefetch's total grows as dependencies are discovered. */
  readonly total: number | null;
  /** Bytes moved so far (downloaded, written or read). */
  readonly bytes: number;
  /** Failures so far. */
  readonly failed: number;
}

/**
 * The output the tools draw on: a terminal redraws one bar line in place; anything else gets plain lines.
 * Log lines and notes are printed above the bar, so they never tear it.
 */
/** Where the terminal writes: stderr, a test's Writable, or nothing. */
export interface TextSink {
  write(text: string): unknown;
}

export class Terminal {
  private bar: string | null = null;

  constructor(
    readonly stream: TextSink,
    readonly tty: boolean,
    readonly columns = 80,
  ) {}

  /** Discards everything (tools called as functions without a terminal). */
  static silent(): Terminal {
    return new Terminal({ write: () => true }, false);
  }

  /** The CLI's: stderr, a bar only when it is a terminal. */
  static stderr(): Terminal {
    return new Terminal(process.stderr, process.stderr.isTTY === true, process.stderr.columns);
  }

  /** Shows (or with null removes) the bar line. Only on a terminal. */
  setBar(line: string | null): void {
    if (!this.tty) return;
    if (line === null) {
      if (this.bar !== null) this.stream.write('\r\x1b[2K');
      this.bar = null;
      return;
    }
    this.bar = line.slice(0, Math.max(1, this.columns - 1));
    this.stream.write(`\r\x1b[2K${this.bar}`);
  }

  /** Prints one line (above the bar, which is redrawn). */
  note(line: string): void {
    const text = line.endsWith('\n') ? line : `${line}\n`;
    if (this.bar !== null) this.stream.write(`\r\x1b[2K${text}${this.bar}`);
    else this.stream.write(text);
  }

  /** A destination for the logger: each log line goes through note(). */
  logDestination(): { write(chunk: string): boolean } {
    return {
      write: (chunk: string) => {
        this.note(chunk);
        return true;
      },
    };
  }
}

export interface ProgressOptions {
  readonly terminal: Terminal;
  /** The tool's name, first on every line. */
  readonly label: string;
  /** What `done`/`total` count. */
  readonly unit: 'packages' | 'bytes';
  /** Minimum time between two plain lines. */
  readonly plainIntervalMs?: number;
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

export function formatBytes(bytes: number): string {
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${UNITS[i]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** `12/40 packages` or `3.4 MB/10.0 MB`, then bytes and failures when they add something. */
export function describeProgress(state: ProgressState, unit: ProgressOptions['unit']): string {
  const parts: string[] = [];
  if (unit === 'packages') {
    parts.push(`${state.done}${state.total !== null ? `/${state.total}` : ''} packages`);
    if (state.bytes > 0) parts.push(`${formatBytes(state.bytes)} downloaded`);
  } else {
    parts.push(`${formatBytes(state.done)}${state.total !== null ? `/${formatBytes(state.total)}` : ''}`);
  }
  if (state.failed > 0) parts.push(`${state.failed} failed`);
  return parts.join(', ');
}

/** A `[#####-----]` bar of `width` cells for done/total; empty when the total is unknown. */
export function renderBar(done: number, total: number | null, width: number): string {
  if (total === null || width < 3) return '';
  const fraction = total === 0 ? 1 : Math.min(1, Math.max(0, done / total));
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

export class Progress {
  private state: ProgressState = { done: 0, total: null, bytes: 0, failed: 0 };
  private lastDraw = -Infinity;
  private finished = false;
  private readonly startedAt = performance.now();

  constructor(private readonly options: ProgressOptions) {}

  /** Records the new state; draws it if enough time has passed since the last draw. */
  update(state: Partial<ProgressState>): void {
    this.state = { ...this.state, ...state };
    const now = performance.now();
    const interval = this.options.terminal.tty ? 100 : (this.options.plainIntervalMs ?? 2000);
    if (!this.finished && now - this.lastDraw >= interval) this.draw(now);
  }

  get current(): ProgressState {
    return this.state;
  }

  private line(): string {
    const s = this.state;
    const text = describeProgress(s, this.options.unit);
    const seconds = (performance.now() - this.startedAt) / 1000;
    const rate = seconds > 0.5 && s.bytes > 0 ? `, ${formatBytes(s.bytes / seconds)}/s` : '';
    return `${this.options.label}: ${text}${rate}`;
  }

  private draw(now: number): void {
    this.lastDraw = now;
    const { terminal } = this.options;
    const text = this.line();
    if (!terminal.tty) {
      terminal.note(text);
      return;
    }
    const bar = renderBar(this.state.done, this.state.total, Math.min(30, terminal.columns - text.length - 2));
    terminal.setBar(bar ? `${bar} ${text}` : text);
  }

  /** Prints one line above the bar (a failure, a phase change). */
  note(line: string): void {
    this.options.terminal.note(`${this.options.label}: ${line}`);
  }

  /** Replaces the bar by the final state as a plain line and stops drawing. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.options.terminal.setBar(null);
    this.options.terminal.note(this.line());
  }
}
