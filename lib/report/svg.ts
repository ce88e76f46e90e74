/**
 * A small SVG writer for the report charts: escaped text and attributes, rounded coordinates, and a
 * well-formedness check the report runs on every document before writing it.
 */

/** Characters XML 1.0 forbids anywhere (C0 controls other than tab / LF / CR, lone surrogates, U+FFFE/F). */
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text for element content or a double-quoted attribute: markup characters escaped, forbidden ones dropped. */
export function escapeXml(text: string): string {
  return String(text)
    .replace(FORBIDDEN, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A coordinate with at most two decimals (smaller files, stable output). */
export function num(value: number): string {
  const r = Math.round(value * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

export type Attributes = Record<string, string | number | undefined>;

function attributes(attrs: Attributes): string {
  let out = '';
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined) continue;
    out += ` ${name}="${typeof value === 'number' ? num(value) : escapeXml(value)}"`;
  }
  return out;
}

/** An element: self-closing without children, else with the given (already serialised) children. */
export function el(name: string, attrs: Attributes, ...children: string[]): string {
  return children.length === 0 ? `<${name}${attributes(attrs)}/>` : `<${name}${attributes(attrs)}>${children.join('')}</${name}>`;
}

/** A text element; `content` is escaped here. */
export function text(x: number, y: number, content: string, attrs: Attributes = {}): string {
  return `<text${attributes({ x, y, ...attrs })}>${escapeXml(content)}</text>`;
}

/** Width estimate of a string in the generic sans-serif font (no font metrics without a DOM). */
export function textWidth(content: string, fontSize: number): number {
  let units = 0;
  // Generous (DejaVu Sans, a common fallback, is wide): a label estimated too wide only costs margin.
  for (const ch of content) units += /[il.,:;'|!]/.test(ch) ? 0.32 : /[mwMW@]/.test(ch) ? 0.92 : /[A-Z0-9=_+<>#%&]/.test(ch) ? 0.7 : 0.62;
  return units * fontSize;
}

/**
 * Throws when `xml` is not a well-formed XML document with one root element: unbalanced or crossed tags,
 * unquoted or duplicate attributes, a raw '<' or '&' in text, unknown entities, forbidden characters.
 * Enough for the documents this module writes (no DTD, CDATA or processing instructions other than the
 * XML declaration).
 */
export function checkWellFormedXml(xml: string): void {
  const fail = (message: string, at: number): never => {
    throw new Error(`not well-formed XML at offset ${at}: ${message} (near ${JSON.stringify(xml.slice(Math.max(0, at - 20), at + 20))})`);
  };
  FORBIDDEN.lastIndex = 0;
  const bad = FORBIDDEN.exec(xml);
  if (bad) fail(`forbidden character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')}`, bad.index);
  const name = /^[A-Za-z_][\w.:-]*/;
  const checkText = (chunk: string, at: number) => {
    if (chunk.includes('>') && /]]>/.test(chunk)) fail("']]>' in text", at);
    for (const m of chunk.matchAll(/&([^;]*);?/g)) {
      const ref = m[0];
      if (!ref.endsWith(';') || !/^(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+)$/.test(m[1])) fail(`bad entity reference ${ref.slice(0, 12)}`, at + (m.index ?? 0));
    }
  };
  let i = 0;
  if (xml.startsWith('<?xml')) {
    const end = xml.indexOf('?>');
    if (end < 0) fail('unterminated XML declaration', 0);
    i = end + 2;
  }
  const stack: string[] = [];
  let roots = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const chunk = xml.slice(i, lt < 0 ? xml.length : lt);
    if (stack.length === 0 && chunk.trim() !== '') fail('text outside the root element', i);
    checkText(chunk, i);
    if (lt < 0) break;
    if (xml.startsWith('<!--', lt)) {
      const end = xml.indexOf('-->', lt + 4);
      if (end < 0) fail('unterminated comment', lt);
      if (xml.slice(lt + 4, end).includes('--')) fail("'--' inside a comment", lt);
      i = end + 3;
      continue;
    }
    const gt = xml.indexOf('>', lt);
    if (gt < 0) fail('unterminated tag', lt);
    // A '>' inside a quoted attribute value is legal: find the real end of the tag.
    let end = lt + 1;
    let quote = '';
    for (; end < xml.length; end++) {
      const c = xml[end];
      if (quote) {
        if (c === quote) quote = '';
        else if (c === '<') fail("'<' in an attribute value", end);
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '>') break;
      else if (c === '<') fail("'<' inside a tag", end);
    }
    if (end >= xml.length) fail('unterminated tag', lt);
    const tag = xml.slice(lt + 1, end);
    if (tag.startsWith('/')) {
      const closing = tag.slice(1).trim();
      const open = stack.pop();
      if (open !== closing) fail(`</${closing}> closes <${open ?? 'nothing'}>`, lt);
    } else {
      const selfClosing = tag.endsWith('/');
      const body = selfClosing ? tag.slice(0, -1) : tag;
      const m = name.exec(body);
      if (!m) fail('bad element name', lt);
      let rest = body.slice(m![0].length);
      const seen = new Set<string>();
      while (rest.trim() !== '') {
        const a = /^\s+([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/.exec(rest);
        if (!a) fail(`bad attribute syntax ${JSON.stringify(rest.slice(0, 20))}`, lt);
        if (seen.has(a![1])) fail(`duplicate attribute ${a![1]}`, lt);
        seen.add(a![1]);
        checkText(a![3] ?? a![4] ?? '', lt);
        rest = rest.slice(a![0].length);
      }
      if (stack.length === 0 && ++roots > 1) fail('more than one root element', lt);
      if (!selfClosing) stack.push(m![0]);
    }
    i = end + 1;
  }
  if (stack.length > 0) fail(`<${stack[stack.length - 1]}> not closed`, xml.length);
  if (roots !== 1) fail('no root element', 0);
}
