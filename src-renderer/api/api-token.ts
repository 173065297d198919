/**
 * The API token of a dashboard opened from another machine (`kiln serve` beyond loopback answers
 * 401 without it). Kept in sessionStorage: it lasts as long as the tab (a reload keeps it) and is
 * gone when the tab closes, so a shared or borrowed computer does not keep a long-lived credential
 * on disk for the next person; every new tab asks once. The token is sent only as
 * `Authorization: Bearer`, never in a URL: streams, downloads and the terminal use one-time tickets.
 */

const KEY = 'kiln.api-token';

/** What the sign-in screen and the sidebar's "Sign out" talk to (the HTTP transport only). */
export interface ClientAuth {
  /** True while a token is kept for this tab. */
  readonly signedIn: boolean;
  /** Checks `token` with one request; keeps it when the server accepts it, throws (UNAUTHORIZED) when not. */
  signIn(token: string): Promise<void>;
  /** Forgets the token. */
  signOut(): void;
  /**
   * Called whenever the server answers 401: the page needs (again) a token. `refused` is true when a
   * kept token was refused (the server's token changed); that token is forgotten before the call.
   */
  onRequired(listener: (refused: boolean) => void): () => void;
}

/** The tab's token store; storage may be missing (tests, very locked-down browsers). */
export class TokenStore {
  private memory: string | undefined;

  constructor(private readonly storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | undefined = safeSessionStorage()) {
    this.memory = storage?.getItem(KEY) ?? undefined;
  }

  get(): string | undefined {
    return this.memory;
  }

  set(token: string): void {
    this.memory = token;
    try { this.storage?.setItem(KEY, token); } catch { /* kept in memory for this page only */ }
  }

  clear(): void {
    this.memory = undefined;
    try { this.storage?.removeItem(KEY); } catch { /* nothing kept */ }
  }
}

function safeSessionStorage(): Storage | undefined {
  try {
    return globalThis.sessionStorage;
  } catch {
    return undefined;
  }
}
