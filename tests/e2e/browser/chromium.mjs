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

/** A page signed in with the API key ``key`` and opened on project ``pid``, the way a person starts. */
export async function openProject(browser, base, key, pid, pageOptions = {}) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, ...pageOptions })
  page.on('pageerror', (e) => console.error('page error:', e.message))
  await page.goto(`${base}/`)
  await page.fill('#api-key', key)
  await page.click('#key-use')
  await page.goto(`${base}/#/projects/${pid}`)
  return page
}

/** Run ``body(browser, out)`` in a fresh Chromium and print ``out`` as one JSON line (what the
 * Python test reads); an error is recorded in ``out.error`` and makes the exit status 1. */
export async function runScript(body) {
  const out = {}
  const browser = await launchChromium()
  try {
    await body(browser, out)
  } catch (e) {
    out.error = String(e)
    process.exitCode = 1
  } finally {
    await browser.close()
    console.log(JSON.stringify(out))
  }
}
