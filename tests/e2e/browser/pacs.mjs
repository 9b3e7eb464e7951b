// The web page's PACS import in headless Chromium (driven by tests/e2e/test_browser_pacs.py).
//
// Env: ELSNET_URL, ELSNET_KEY, ELSNET_PROJECT (an existing project's id), ELSNET_PATIENT (a
// PatientID on the PACS), ELSNET_SHOTS (optional screenshot folder), ELSNET_FRONTEND.
// Prints one JSON object on stdout; logs on stderr.

import fs from 'node:fs'
import path from 'node:path'
import { openProject, runScript } from './chromium.mjs'

const { ELSNET_URL: BASE, ELSNET_KEY: KEY, ELSNET_PROJECT: PID, ELSNET_PATIENT: PATIENT, ELSNET_SHOTS: SHOTS } = process.env

await runScript(async (browser, out) => {
  const page = await openProject(browser, BASE, KEY, PID)
  await page.waitForSelector('#pacs-card:not([hidden])', { timeout: 30000 })
  out.servers = await page.locator('#pacs-server option').allTextContents()
  await page.fill('#pacs-patient', PATIENT)
  await page.click('#pacs-search button[type=submit]')
  await page.waitForSelector('#pacs-results tbody tr', { timeout: 30000 })
  out.rows = await page.locator('#pacs-results tbody tr').count()
  out.row_text = await page.locator('#pacs-results tbody tr').first().innerText()
  await page.click('#pacs-results tbody tr button.pacs-import')
  await page.waitForFunction(() => /added/.test(document.querySelector('#pacs-results .status')?.textContent ?? ''), null, { timeout: 120000 })
  out.status = await page.locator('#pacs-results .status').first().textContent()
  await page.waitForSelector('#studies-table tbody tr', { timeout: 30000 })
  out.cohort_rows = await page.locator('#studies-table tbody tr').count()
  await page.waitForFunction(() => (document.querySelector('#studies-table img.thumb')?.naturalWidth ?? 0) > 0, null, { timeout: 30000 })
  out.thumb_loaded = true
  if (SHOTS) {
    fs.mkdirSync(SHOTS, { recursive: true })
    await page.screenshot({ path: path.join(SHOTS, '09_pacs_import.png') })
  }
  // a search that matches nothing says so
  await page.fill('#pacs-patient', 'nobody-has-this-id')
  await page.click('#pacs-search button[type=submit]')
  await page.waitForSelector('#pacs-empty:not([hidden])', { timeout: 30000 })
  out.empty_shown = true
  // every study on the PACS, brought in as one import job (the one imported above is found again)
  await page.fill('#pacs-patient', '')
  await page.click('#pacs-search button[type=submit]')
  await page.waitForSelector('#pacs-import-all:not([hidden])', { timeout: 30000 })
  out.import_all_label = await page.locator('#pacs-import-all').textContent()
  await page.click('#pacs-import-all')
  await page.waitForFunction(() => /✓|✗/.test(document.querySelector('#pacs-job-status')?.textContent ?? ''), null, { timeout: 180000 })
  out.import_all_status = await page.locator('#pacs-job-status').textContent()
  await page.waitForFunction((n) => document.querySelectorAll('#studies-table tbody tr').length >= n, 2, { timeout: 30000 })
  out.cohort_rows_after = await page.locator('#studies-table tbody tr').count()
})
