// Headless Debian Chromium through playwright-core (from frontend/node_modules; ELSNET_FRONTEND
// names that folder), with the flags this machine's closed network needs: no background
// networking, no component updates, no QUIC. CHROMIUM overrides /usr/bin/chromium.

import { createRequire } from 'node:module'
import path from 'node:path'

const require = createRequire(path.resolve(process.env.ELSNET_FRONTEND ?? 'frontend', 'package.json'))
const { chromium } = require('playwright-core')

export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', ...extraArgs],
  })
}
