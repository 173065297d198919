/**
 * Builds the tiny shell image the Docker tests use: FROM scratch + Debian's static busybox.
 * No registry is reachable on CI, so every image a test needs is built here, locally, once.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TEST_IMAGE = 'kiln-test/busybox:1';
/** Same shell, plus a HEALTHCHECK: for service tests. */
export const TEST_HEALTHY_IMAGE = 'kiln-test/busybox-healthy:1';

const BUSYBOX = '/bin/busybox';

function imageExists(name: string): boolean {
  try {
    execFileSync('docker', ['image', 'inspect', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function build(name: string, dockerfile: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-image-'));
  try {
    copyFileSync(BUSYBOX, join(dir, 'busybox'));
    writeFileSync(join(dir, 'Dockerfile'), dockerfile);
    mkdirSync(join(dir, 'empty'));
    execFileSync('docker', ['build', '-q', '-t', name, dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const BASE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /tmp /etc /workspace /root && chmod 1777 /tmp && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
`;

export function ensureTestImages(): void {
  if (!imageExists(TEST_IMAGE)) build(TEST_IMAGE, BASE);
  if (!imageExists(TEST_HEALTHY_IMAGE)) {
    build(
      TEST_HEALTHY_IMAGE,
      `${BASE}HEALTHCHECK --interval=1s --timeout=1s --retries=30 CMD ["/bin/sh", "-c", "test -f /tmp/ready"]
CMD ["/bin/sh", "-c", "sleep 1; touch /tmp/ready; exec httpd -f -p 8080 -h /tmp"]
`,
    );
  }
}
