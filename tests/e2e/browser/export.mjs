// The cohort's masks as a prepared zip on the web page in headless Chromium (driven by
// tests/e2e/test_browser_export.py against a real `elsnet serve` with its worker).
//
// Env: ELSNET_URL, ELSNET_KEY, ELSNET_PROJECT (a project with segmented studies), ELSNET_STUDIES
// (how many), ELSNET_DOWNLOADS (a folder), ELSNET_SHOTS (optional screenshot folder), ELSNET_FRONTEND.
// Prints one JSON object on stdout; logs on stderr.

import fs from 'node:fs'
import path from 'node:path'
import { openProject, runScript } from './chromium.mjs'

const { ELSNET_URL: BASE, ELSNET_KEY: KEY, ELSNET_PROJECT: PID, ELSNET_STUDIES: N, ELSNET_DOWNLOADS: DOWNLOADS, ELSNET_SHOTS: SHOTS } = process.env

await runScript(async (browser, out) => {
  const page = await openProject(browser, BASE, KEY, PID, { acceptDownloads: true })
  await page.waitForFunction((n) => document.querySelectorAll('#studies-table tbody tr').length >= n, Number(N), { timeout: 30000 })
  // a small cohort: NIfTI downloads at once, DICOM SEG is prepared; no zip prepared yet
  out.masks_button = await page.evaluate(() => { const b = document.querySelector('#export-masks'); return { text: b.textContent, mode: b.dataset.mode } })
  out.seg_button = await page.evaluate(() => { const b = document.querySelector('#export-seg'); return { text: b.textContent, mode: b.dataset.mode } })
  out.area_hidden_before = await page.locator('#export-area').isHidden()
  // every text the DICOM SEG button shows from the click on
  await page.evaluate(() => {
    const b = document.querySelector('#export-seg')
    window.__segTexts = []
    new MutationObserver(() => window.__segTexts.push(`${b.textContent}|${b.disabled}`)).observe(b, { childList: true, characterData: true, subtree: true, attributes: true })
  })
  await page.evaluate(() => document.querySelectorAll('.msg').forEach((m) => m.remove()))
  await page.click('#export-seg')
  await page.waitForSelector('#export-ready .export-download', { timeout: 180000 })
  await page.waitForFunction(() => !document.querySelector('#export-seg').disabled, null, { timeout: 30000 })
  out.seg_texts = await page.evaluate(() => window.__segTexts)
  out.rule = await page.locator('#export-rule').innerText()
  out.link = await page.locator('#export-ready .export-download').innerText()
  out.link_job = await page.getAttribute('#export-ready .export-download', 'data-job-id')
  out.job_card = await page.evaluate(() => document.querySelector('#job-title')?.textContent ?? null)
  if (SHOTS) {
    fs.mkdirSync(SHOTS, { recursive: true })
    await page.locator('#export-area').scrollIntoViewIfNeeded()
    await page.screenshot({ path: path.join(SHOTS, '15_prepared_export.png') })
  }
  await page.evaluate(() => document.querySelectorAll('.msg').forEach((m) => m.remove()))
  const [file] = await Promise.all([page.waitForEvent('download', { timeout: 60000 }), page.click('#export-ready .export-download')])
  const filePath = path.join(DOWNLOADS, file.suggestedFilename())
  await file.saveAs(filePath)
  out.download = { path: filePath, name: file.suggestedFilename() }
})
