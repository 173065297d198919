/** The desktop-only calls (DesktopApi): the embedded server's URL (downloads, badges) and terminal tickets. */
import { ApiError, type DesktopApi } from '../../shared/api/engine-api.js';

export function createDesktopApi(deps: { serverUrl: () => string; terminalUrl?: (jobId: string) => string | undefined }): DesktopApi {
  return {
    async serverUrl(): Promise<string> {
      return deps.serverUrl();
    },
    async terminalUrl(jobId: string): Promise<string> {
      const url = typeof jobId === 'string' ? deps.terminalUrl?.(jobId) : undefined;
      if (!url) throw new ApiError('UNAVAILABLE', 'this engine has no debug terminals');
      return url;
    },
  };
}
