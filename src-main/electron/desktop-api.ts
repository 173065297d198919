/** The desktop-only calls (DesktopApi): the embedded server's URL (downloads, badges) and terminal tickets. */
import { ApiError, type DesktopApi } from '../../shared/api/engine-api.js';

export function createDesktopApi(deps: { serverUrl: () => string; terminalUrl?: (jobId: string) => string | undefined }): DesktopApi {
  return {
    async serverUrl(): Promise<string> {
      return deps.serverUrl();
    },
    async terminalUrl(jobId: string): Promise<string> {
      if (typeof jobId !== 'string' || jobId === '') throw new ApiError('BAD_REQUEST', `terminalUrl: jobId must be a job id, got ${JSON.stringify(jobId) ?? String(jobId)}`);
      // Refused (CONFLICT) for a job that is not kept for debugging: the server mints no ticket for it.
      const url = deps.terminalUrl?.(jobId);
      if (!url) throw new ApiError('UNAVAILABLE', 'this engine has no debug terminals');
      return url;
    },
  };
}
