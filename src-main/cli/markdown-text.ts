/**
 * A job summary ($KILN_SUMMARY, Markdown) as plain lines for a terminal: what `kiln run` prints
 * after a run, where there is no dashboard to render it. markdown-it parses (CommonMark with GitHub's
 * tables and strikethrough, raw HTML off — so HTML is text, as on the run page); this walks its
 * tokens: headings and paragraphs become lines, lists keep their bullets and numbers, tables are
 * aligned in columns, code is indented, links show their address after the text.
 *
 * Control characters (escape sequences included) are dropped from the text: a summary is the job's
 * data and must not move the cursor or recolour the user's terminal.
 */
import MarkdownIt from 'markdown-it';

const md = new MarkdownIt({ html: false, linkify: false, typographer: false });
type Token = ReturnType<typeof md.parse>[number];

export interface TextStyle {
  /** Headings (and a table's header row) are made to stand out; identity when colour is off. */
  strong(text: string): string;
}

const PLAIN: TextStyle = { strong: (t) => t };

/** Every C0/C1 control but tab and newline: no escape sequence reaches the terminal. */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

export function stripControls(text: string): string {
  return text.replace(CONTROL, '');
}

/** The text of an inline token's children: code in backticks, links as `text (address)`, images as `[image: alt] (address)`. */
function inlineText(children: Token[] | null): string {
  let out = '';
  const links: string[] = [];
  for (const t of children ?? []) {
    switch (t.type) {
      case 'text': out += stripControls(t.content); break;
      case 'code_inline': out += `\`${stripControls(t.content)}\``; break;
      case 'softbreak': out += ' '; break;
      case 'hardbreak': out += '\n'; break;
      case 'link_open': links.push(String(t.attrGet('href') ?? '')); out += '\u0001'; break;
      case 'link_close': {
        const href = links.pop() ?? '';
        const start = out.lastIndexOf('\u0001');
        const text = out.slice(start + 1);
        out = out.slice(0, start) + text + (href && href !== text && !href.startsWith('#') ? ` (${href})` : '');
        break;
      }
      case 'image': {
        const src = String(t.attrGet('src') ?? '');
        out += `[image: ${t.content || 'image'}]${src && !src.startsWith('data:') ? ` (${src})` : ''}`;
        break;
      }
      default: break;
    }
  }
  return out;
}

/** Aligns a table's rows in columns, a rule under the header. */
function tableLines(rows: string[][], header: number, style: TextStyle): string[] {
  const cols = Math.max(...rows.map((r) => r.length));
  const widths = Array.from({ length: cols }, (_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => widths.map((w, i) => (r[i] ?? '').padEnd(w)).join('  ').trimEnd();
  const out: string[] = [];
  rows.forEach((r, i) => {
    out.push(i < header ? style.strong(line(r)) : line(r));
    if (i === header - 1) out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  });
  return out;
}

/** The Markdown as terminal lines (no trailing blank line). */
export function markdownToText(markdown: string, style: TextStyle = PLAIN): string[] {
  const tokens = md.parse(markdown, {});
  const lines: string[] = [];
  // The prefix of each open container (list item, quote), and the counters of open lists.
  const prefixes: string[] = [];
  const lists: Array<{ ordered: boolean; n: number }> = [];
  let firstInItem = false;
  let table: { rows: string[][]; header: number; inHead: boolean } | undefined;
  let row: string[] | undefined;
  let heading = false;

  const blank = (): void => {
    if (lines.length > 0 && lines[lines.length - 1] !== '' && prefixes.length === 0) lines.push('');
  };
  const emit = (text: string): void => {
    for (const part of text.split('\n')) {
      // The bullet goes on the item's first line; later lines line up under its text.
      const blanked = (p: string): string => p.replace(/[^>]/g, ' ');
      const inner = prefixes.length - 1;
      const prefix = prefixes.map((p, i) => (firstInItem && i === inner ? p : blanked(p))).join('');
      firstInItem = false;
      lines.push((prefix + part).trimEnd());
    }
  };

  for (const t of tokens) {
    switch (t.type) {
      case 'heading_open': blank(); heading = true; break;
      case 'heading_close': heading = false; break;
      case 'paragraph_open': if (!t.hidden) blank(); break;
      case 'inline': {
        const text = stripControls(inlineText(t.children));
        if (row) row.push(text);
        else emit(heading ? style.strong(text) : text);
        break;
      }
      case 'bullet_list_open': case 'ordered_list_open':
        if (lists.length === 0) blank();
        lists.push({ ordered: t.type === 'ordered_list_open', n: Number(t.attrGet('start') ?? 1) });
        break;
      case 'bullet_list_close': case 'ordered_list_close': lists.pop(); break;
      case 'list_item_open': {
        const list = lists[lists.length - 1];
        prefixes.push(list?.ordered ? `${list.n++}. ` : '- ');
        firstInItem = true;
        break;
      }
      case 'list_item_close': prefixes.pop(); break;
      case 'blockquote_open': blank(); prefixes.push('> '); firstInItem = true; break;
      case 'blockquote_close': prefixes.pop(); break;
      case 'fence': case 'code_block':
        blank();
        for (const l of stripControls(t.content.replace(/\n$/, '')).split('\n')) emit(`    ${l}`);
        break;
      case 'hr': blank(); emit('----'); break;
      case 'table_open': blank(); table = { rows: [], header: 0, inHead: false }; break;
      case 'thead_open': if (table) table.inHead = true; break;
      case 'thead_close': if (table) table.inHead = false; break;
      case 'tr_open': row = []; break;
      case 'tr_close':
        if (table && row) {
          table.rows.push(row);
          if (table.inHead) table.header++;
        }
        row = undefined;
        break;
      case 'table_close':
        if (table) for (const l of tableLines(table.rows, table.header, style)) emit(l);
        table = undefined;
        break;
      default: break;
    }
  }
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}
