/**
 * Job summaries as HTML a page may show: Markdown rendered by markdown-it with raw HTML disabled
 * (a `<script>` in a summary is text, not an element), then sanitised by DOMPurify anyway (defence
 * in depth: links, images and attributes markdown-it does produce). Links open outside the app
 * (target=_blank, rel=noopener noreferrer; in the desktop app the window-open handler sends https
 * links to the system browser). Remote images load only when the reader allowed them: otherwise an
 * image becomes a link to it, so a summary cannot track who reads it. Images inline as data: URLs
 * always show.
 */
import DOMPurify from 'dompurify';
import MarkdownIt from 'markdown-it';

const md = new MarkdownIt({ html: false, linkify: true, typographer: false });

/** Links only to the web and mail; markdown-it's own validator already refuses javascript:, vbscript:, file:. */
const SAFE_LINK = /^(https?:|mailto:|#)/i;

let purifier: ReturnType<typeof DOMPurify> | undefined;
let allowImages = false;
/** Remote (https) images the last sanitise met, loaded or not: whether the reader has a choice to make. */
let remoteImages = 0;

function purify(): ReturnType<typeof DOMPurify> {
  if (purifier) return purifier;
  const p = DOMPurify(window);
  p.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A') {
      const href = node.getAttribute('href') ?? '';
      if (!SAFE_LINK.test(href)) node.removeAttribute('href');
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer');
    } else if (node.tagName === 'IMG') {
      const src = node.getAttribute('src') ?? '';
      if (/^data:image\/(png|gif|jpeg|webp);/i.test(src)) return;
      if (/^https:/i.test(src)) remoteImages++;
      if (allowImages && /^https:/i.test(src)) {
        node.setAttribute('referrerpolicy', 'no-referrer');
        node.setAttribute('loading', 'lazy');
        return;
      }
      // Replace the image by a link to it, labelled with its alt text.
      const link = node.ownerDocument.createElement('a');
      link.textContent = `🖼 ${node.getAttribute('alt') || 'image'}`;
      link.className = 'summary-blocked-image';
      link.title = /^https?:/i.test(src) ? `remote image not loaded: ${src}` : 'image not shown';
      if (/^https?:/i.test(src)) {
        link.setAttribute('href', src);
        link.setAttribute('target', '_blank');
        link.setAttribute('rel', 'noopener noreferrer');
      }
      node.replaceWith(link);
    }
  });
  purifier = p;
  return p;
}

/**
 * The sanitised HTML of a summary, and how many remote images it has (shown or blocked). That count
 * comes from the sanitised document, not the Markdown source: an image written reference-style
 * (`![chart][c]` with `[c]: https://…`) counts the same as an inline `![..](https://…)`, so a reader
 * can turn on every image the summary blocked.
 */
export function renderSummary(markdown: string, options: { allowRemoteImages: boolean }): { html: string; remoteImages: number } {
  const source = md.render(markdown);
  allowImages = options.allowRemoteImages;
  remoteImages = 0;
  const html = purify().sanitize(source, { USE_PROFILES: { html: true }, FORBID_TAGS: ['style', 'form', 'input', 'button', 'iframe'], FORBID_ATTR: ['style'] });
  return { html, remoteImages };
}

/** Just the Markdown step (no DOM needed): what markdown-it makes of a summary before sanitising. */
export function markdownToHtml(markdown: string): string {
  return md.render(markdown);
}
