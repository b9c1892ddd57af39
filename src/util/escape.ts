// Escaping of text placed in SVG and HTML markup (element text and quoted attribute values).
const ENTITIES: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' };

/** `s` safe inside XML/HTML text and single- or double-quoted attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ENTITIES[c]!);
}
