import type { MouseEvent, ReactNode } from 'react';
import { useClient } from '../app/hooks.js';

/**
 * A download link that works when the server wants the API token: a link cannot carry a header, so
 * a click first asks the client for the URL to open now (with a one-time ticket, never the token)
 * and follows that. Where the client has no such step (the desktop app), it is a plain link.
 */
export function DownloadLink({ href, download, className, action, children }: { href: string; download: string; className: string; action: string; children: ReactNode }) {
  const client = useClient();
  const onClick = (e: MouseEvent<HTMLAnchorElement>): void => {
    if (!client.authorizedUrl || !client.auth?.signedIn) return;
    e.preventDefault();
    void client.authorizedUrl(href).then(
      (url) => {
        const a = document.createElement('a');
        a.href = url;
        a.download = download;
        a.rel = 'noopener';
        document.body.append(a);
        a.click();
        a.remove();
      },
      (err: unknown) => window.alert(`Could not start the download: ${err instanceof Error ? err.message : String(err)}`),
    );
  };
  return <a className={className} href={href} download={download} data-action={action} onClick={onClick}>{children}</a>;
}
