/**
 * The syntax of an ssh:// engine's `host-key:`: the server's host key fingerprint as
 * `ssh-keygen -lf` and `ssh` print it (`SHA256:` and the unpadded base64 of the key's SHA-256).
 * Shared so that kiln.config.yml, the settings page and the SSH connection agree on one form.
 */

const PIN = /^SHA256:([A-Za-z0-9+/]{43})=?$/;

/** The value in its usual form (trimmed, unpadded), or undefined when it is not a SHA256 fingerprint. */
export function normalizeHostKeyPin(text: string): string | undefined {
  const m = PIN.exec(text.trim());
  return m ? `SHA256:${m[1]}` : undefined;
}

export const HOST_KEY_PIN_HELP = "expected 'SHA256:' and 43 base64 characters, as `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints it on the engine's machine";
