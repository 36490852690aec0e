import { readFile } from "node:fs/promises";
import type { Logger } from "./logger.js";

export type Color = "blue" | "green";

/** What the watcher concluded from the file: whether this instance's consumers run, and why. */
export interface ActiveColorState {
  consuming: boolean;
  /** The color the file names, if it names one. */
  activeColor: Color | undefined;
  /** One line for logs and /readyz, e.g. "file says green (this is blue)". */
  reason: string;
}

/** Something that says whether a consumer may run now; startConsumer follows it. */
export interface ConsumerGate {
  readonly open: boolean;
  /** Resolves once the first decision is known, so a consumer never starts in the wrong state. */
  readonly ready: Promise<void>;
  onChange(listener: (open: boolean) => void): void;
}

/** Reads the file once; anything but a readable `blue` or `green` fails open (consume), so progress never stops. */
export async function readActiveColor(file: string | undefined, own: Color): Promise<ActiveColorState> {
  if (!file) return { consuming: true, activeColor: undefined, reason: "ACTIVE_COLOR_FILE unset: consuming" };
  let content: string;
  try {
    content = (await readFile(file, "utf8")).trim();
  } catch (err) {
    const code = (err as { code?: string }).code ?? (err as Error).message;
    return { consuming: true, activeColor: undefined, reason: `${file} unreadable (${code}): consuming` };
  }
  if (content !== "blue" && content !== "green")
    return {
      consuming: true,
      activeColor: undefined,
      reason: `${file} says ${JSON.stringify(content.slice(0, 20))}, not blue or green: consuming`,
    };
  return content === own
    ? { consuming: true, activeColor: content, reason: `file says ${content} (this is ${own}): consuming` }
    : { consuming: false, activeColor: content, reason: `file says ${content} (this is ${own}): paused` };
}

/**
 * Re-reads ACTIVE_COLOR_FILE every `pollMs` (a tiny file, one readFile; a Kubernetes ConfigMap update swaps a
 * symlink, which a re-read follows) and tells listeners when "consuming" flips. Logs every transition.
 */
export class ActiveColorWatcher implements ConsumerGate {
  private current: ActiveColorState;
  private readonly listeners: ((open: boolean) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  readonly ready: Promise<void>;

  constructor(
    private readonly opts: { file: string | undefined; color: Color; logger: Logger; pollMs?: number },
  ) {
    this.current = { consuming: true, activeColor: undefined, reason: "not read yet" };
    this.ready = this.poll(true);
  }

  get state(): ActiveColorState {
    return this.current;
  }

  get open(): boolean {
    return this.current.consuming;
  }

  onChange(listener: (open: boolean) => void): void {
    this.listeners.push(listener);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async poll(first: boolean): Promise<void> {
    const next = await readActiveColor(this.opts.file, this.opts.color);
    if (this.stopped) return;
    const previous = this.current;
    this.current = next;
    if (first || next.reason !== previous.reason)
      this.opts.logger.info({ activeColor: next.activeColor, consuming: next.consuming }, next.reason);
    if (!first && next.consuming !== previous.consuming)
      for (const listener of this.listeners) listener(next.consuming);
    // Nothing to watch without a file: the answer cannot change.
    if (!this.opts.file) return;
    this.timer = setTimeout(() => void this.poll(false), this.opts.pollMs ?? 2000);
    this.timer.unref();
  }
}
