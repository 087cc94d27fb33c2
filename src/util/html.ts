/** Escapes text for HTML element content and attribute values. */
export function esc(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** Data for the page's scripts, inert (`application/json`), with `<` escaped so it cannot close the tag. */
export function jsonScript(attrs: string, data: unknown): string {
  return `<script type="application/json" ${attrs}>${JSON.stringify(data).replaceAll('<', '\\u003c')}</script>`;
}

/** A number with `digits` decimals, or an en dash when absent. */
export function num(x: number | undefined, digits = 2): string {
  return x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits);
}

/** A 0–1 fraction as a percentage with one decimal. */
export function pct(x: number | undefined, digits = 1): string {
  return x === undefined || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(digits)} %`;
}
