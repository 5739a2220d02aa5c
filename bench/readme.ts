// bench/README.md is one generated table per benchmark; the sections written by benchmarks of their own start
// with an HTML comment marker, so each can be rewritten alone.

/** The text with the section that starts at `marker` (up to the next marker, or the end) replaced by `body`; appended where there is none. */
export function withSection(text: string, marker: string, body: string): string {
    const at = text.indexOf(marker);
    if (at === -1) return `${text.trimEnd()}\n\n${body}`;
    const next = text.indexOf("<!-- ", at + marker.length);
    return `${text.slice(0, at)}${body}${next === -1 ? "" : `\n${text.slice(next)}`}`;
}
