/**
 * The pipeline the debug tests fail on purpose: a first step adds SOME_VAR through $KILN_ENV and
 * leaves a file in the workspace; the second adds PARTIAL, prints a secret (masked) and exits 3.
 * The job has a service, `web`, that answers HTTP on 8080 by its host name.
 */
import { TEST_HEALTHY_IMAGE, TEST_IMAGE } from '../helpers/test-image.js';

export const FAILING_PIPELINE = `name: dbg
on:
  push: { branches: [main] }
  manual: true
jobs:
  build:
    image: ${TEST_IMAGE}
    secrets: [DEPLOY_TOKEN]
    services:
      web: { image: ${TEST_HEALTHY_IMAGE} }
    steps:
      - name: Prepare
        run: |
          echo "SOME_VAR=from-kiln-env" >> "$KILN_ENV"
          echo hello > marker.txt
      - name: Break
        run: |
          echo "PARTIAL=set-before-failing" >> "$KILN_ENV"
          echo "token is $DEPLOY_TOKEN"
          echo "failing now"
          exit 3
`;
