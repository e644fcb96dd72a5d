/** Where a progress bar is drawn (stderr in the CLI). */
export interface ProgressOutput {
    write(text: string): unknown;
    isTTY?: boolean;
    columns?: number;
}

const BAR_WIDTH = 30;
const TTY_REDRAW_MS = 100;

/**
 * A progress bar for `done` of `total` records. On a TTY it redraws one line with `\r` (at most every
 * 100 ms); elsewhere (CI logs, pipes) it prints a line each time another 10% is done, so a log gets
 * about ten lines however long the run.
 */
export class ProgressBar {
    private readonly started = Date.now();
    private lastDraw = 0;
    private lastDecile = 0;
    private drawn = false;
    private lastLength = 0;

    constructor(
        private readonly output: ProgressOutput | undefined,
        private readonly total: number,
        private readonly label = "sending",
    ) {}

    update(done: number, retried: number): void {
        if (!this.output) return;
        if (this.output.isTTY) {
            const now = Date.now();
            if (now - this.lastDraw < TTY_REDRAW_MS && done < this.total) return;
            this.lastDraw = now;
            this.drawn = true;
            // Stay within the terminal's width (a wrapped line cannot be redrawn) and blank out what a
            // longer previous line left behind.
            const text = this.line(done, retried).slice(0, Math.max(20, (this.output.columns ?? 80) - 1));
            this.output.write(`\r${text.padEnd(this.lastLength)}`);
            this.lastLength = text.length;
        } else {
            const decile = Math.floor((done / this.total) * 10);
            if (decile <= this.lastDecile) return;
            this.lastDecile = decile;
            this.output.write(`${this.line(done, retried)}\n`);
        }
    }

    /** Ends the TTY line so that what follows starts on a fresh one. */
    finish(): void {
        if (this.output?.isTTY && this.drawn) this.output.write("\n");
    }

    private line(done: number, retried: number): string {
        const fraction = this.total === 0 ? 1 : Math.min(1, done / this.total);
        const filled = Math.round(fraction * BAR_WIDTH);
        const seconds = (Date.now() - this.started) / 1000;
        const rate = seconds > 0 ? Math.round(done / seconds) : 0;
        const pct = `${Math.floor(fraction * 100)}%`.padStart(4);
        return (
            `${this.label} [${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}] ${pct} ${done}/${this.total} records` +
            `, ${retried} retried, ${seconds.toFixed(1)} s, ${rate}/s`
        );
    }
}
