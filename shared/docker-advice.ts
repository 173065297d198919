/**
 * How to get a Docker engine Kiln can reach: the advice `kiln serve` prints when none answers and
 * the dashboard's Docker indicator shows, kept in one place so the two never say different things.
 */

/** Where Docker's own install guide is. */
export const DOCKER_INSTALL_URL = 'https://docs.docker.com/engine/install/';

/** The command that starts a Linux machine's Docker service. */
export const DOCKER_START_COMMAND = 'sudo systemctl start docker';

/** How to start Docker that is installed but not running (for a terminal: the command in backticks). */
export const DOCKER_START_ADVICE = `start Docker (\`${DOCKER_START_COMMAND}\`, or open Docker Desktop)`;

/** The whole advice as one phrase: start Docker, or install it. */
export const DOCKER_ADVICE = `${DOCKER_START_ADVICE} or install it (${DOCKER_INSTALL_URL})`;
