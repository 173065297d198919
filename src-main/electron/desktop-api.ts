/** The desktop-only calls (DesktopApi): the embedded server's URL, for downloads and badges. */
import type { DesktopApi } from '../../shared/api/engine-api.js';

export function createDesktopApi(deps: { serverUrl: () => string }): DesktopApi {
  return {
    async serverUrl(): Promise<string> {
      return deps.serverUrl();
    },
  };
}
