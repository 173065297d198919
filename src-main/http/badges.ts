/**
 * Status badges in shields.io's "flat" look (badge-maker 5 geometry and classic colours): a grey
 * label box and a coloured message box, text in 11px Verdana with a 1px shadow.
 *
 * Text widths come from Verdana's advance widths (per 1000 em) at 11px, truncated and rounded up
 * to an odd number as badge-maker does, so "build | passing" is exactly 88×20 like shields'.
 * Every piece of text is XML-escaped: a branch called `<script>` is just text.
 */
import { createHash } from 'node:crypto';
import type { Status } from '../../shared/model/status.js';

export type BadgeState = 'passing' | 'failing' | 'running' | 'cancelled' | 'unknown';

export const BADGE_COLORS: Record<BadgeState, string> = {
  passing: '#4c1',
  failing: '#e05d44',
  running: '#dfb317',
  cancelled: '#9f9f9f',
  unknown: '#9f9f9f',
};

export function badgeStateOf(status: Status | undefined): BadgeState {
  switch (status) {
    case 'passed': return 'passing';
    case 'failed':
    case 'timed_out': return 'failing';
    case 'queued':
    case 'running': return 'running';
    case 'cancelled': return 'cancelled';
    default: return 'unknown';
  }
}

// Verdana advance widths in 1/1000 em for printable ASCII (0x20–0x7e), from the font's hmtx table.
const VERDANA_WIDTHS: readonly number[] = [
  351, 393, 458, 818, 635, 1076, 726, 268, 454, 454, 635, 818, 363, 454, 363, 454, // space ! " # $ % & ' ( ) * + , - . /
  635, 635, 635, 635, 635, 635, 635, 635, 635, 635, 454, 454, 818, 818, 818, 545, // 0-9 : ; < = > ?
  1000, 683, 685, 698, 770, 632, 574, 775, 751, 420, 454, 692, 556, 842, 748, 787, // @ A-O
  603, 787, 695, 683, 616, 731, 683, 988, 685, 615, 685, 454, 454, 454, 818, 635, // P-Z [ \ ] ^ _
  635, 600, 623, 520, 623, 595, 351, 623, 632, 274, 344, 591, 274, 972, 632, 606, // ` a-o
  623, 623, 426, 520, 394, 632, 591, 818, 591, 591, 525, 634, 454, 634, 818, //       p-z { | } ~
];
/** Width for characters outside the table (CJK, accents…): a wide-ish Verdana glyph. */
const FALLBACK_WIDTH = 700;
const WIDE_WIDTH = 1000;

/** Text width in px at 11px Verdana, as badge-maker computes it (truncated, then rounded up to odd). */
export function textWidth(text: string): number {
  let units = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (code >= 0x20 && code <= 0x7e) units += VERDANA_WIDTHS[code - 0x20];
    else if (code >= 0x2e80) units += WIDE_WIDTH; // CJK and beyond: full-width glyphs
    else units += FALLBACK_WIDTH;
  }
  const px = Math.trunc((units * 11) / 1000);
  return px % 2 === 0 ? px + 1 : px;
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string)
    // Control characters are not allowed in XML 1.0 at all.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}

/** A flat badge: `label | message`, message box in `color` (a #hex colour; anything else becomes grey). */
export function renderBadge(label: string, message: string, color: string): string {
  const fill = /^#[0-9a-fA-F]{3,8}$/.test(color) ? color : '#9f9f9f';
  const labelText = textWidth(label);
  const messageText = textWidth(message);
  const leftWidth = labelText + 10;
  const rightWidth = messageText + 10;
  const width = leftWidth + rightWidth;
  const labelX = 10 * (1 + labelText / 2 + 5);
  const messageX = 10 * (leftWidth - 1 + messageText / 2 + 5);
  const l = escapeXml(label);
  const m = escapeXml(message);
  const title = `${l}: ${m}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="20" role="img" aria-label="${title}"><title>${title}</title>`
    + '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
    + `<clipPath id="r"><rect width="${width}" height="20" rx="3" fill="#fff"/></clipPath>`
    + `<g clip-path="url(#r)"><rect width="${leftWidth}" height="20" fill="#555"/><rect x="${leftWidth}" width="${rightWidth}" height="20" fill="${fill}"/><rect width="${width}" height="20" fill="url(#s)"/></g>`
    + '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110">'
    + `<text aria-hidden="true" x="${labelX}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="${labelText * 10}">${l}</text>`
    + `<text x="${labelX}" y="140" transform="scale(.1)" fill="#fff" textLength="${labelText * 10}">${l}</text>`
    + `<text aria-hidden="true" x="${messageX}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="${messageText * 10}">${m}</text>`
    + `<text x="${messageX}" y="140" transform="scale(.1)" fill="#fff" textLength="${messageText * 10}">${m}</text>`
    + '</g></svg>';
}

/** A strong ETag over the SVG bytes. */
export function etagOf(svg: string): string {
  return `"${createHash('sha1').update(svg).digest('base64url')}"`;
}

/** True when an If-None-Match header names this ETag (or `*`); weak validators compare equal. */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').map((t) => t.trim().replace(/^W\//, '')).some((t) => t === etag || t === '*');
}
