/** HTML escaping for pages built from strings (microdot leaves this to its templates). */

const ESCAPES: Readonly<Record<string, string>> = Object.freeze({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' });

/** `text` safe to place in HTML text and in quoted attribute values (`& < > " '` become references). */
export function escapeHtml(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}
