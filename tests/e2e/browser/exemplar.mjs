// "Which study to annotate?" on the web page in headless Chromium (driven by
// tests/e2e/test_browser_exemplar.py against a real `elsnet serve` with its worker).
//
// Env: ELSNET_URL, ELSNET_KEY, ELSNET_PROJECT (a project with studies), ELSNET_STUDIES (how many),
// ELSNET_EXTRA (a NIfTI file uploaded after the ranking), ELSNET_SHOTS (optional screenshot folder),
// ELSNET_FRONTEND. Prints one JSON object on stdout; logs on stderr.

import fs from 'node:fs'
import path from 'node:path'
import { openProject, runScript } from './chromium.mjs'

const { ELSNET_URL: BASE, ELSNET_KEY: KEY, ELSNET_PROJECT: PID, ELSNET_STUDIES: N, ELSNET_EXTRA: EXTRA, ELSNET_SHOTS: SHOTS } = process.env
const cells = (page) => page.evaluate(() => Object.fromEntries([...document.querySelectorAll('#studies-table tbody tr')]
  .map((r) => [r.dataset.studyId, { typicality: r.querySelector('td.typicality')?.textContent ?? null,
    title: r.querySelector('td.typicality .badge')?.getAttribute('title') ?? null,
    suggested: Boolean(r.querySelector('.badge.suggested')) }])))

await runScript(async (browser, out) => {
  const page = await openProject(browser, BASE, KEY, PID)
  await page.waitForFunction((n) => document.querySelectorAll('#studies-table tbody tr').length >= n, Number(N), { timeout: 30000 })
  // before any ranking: no hint, no badge, a dash in the Typicality column
  out.hint_hidden_before = await page.locator('#exemplar-hint').isHidden()
  out.cells_before = await cells(page)
  // every text the button shows from the click on
  await page.evaluate(() => {
    const b = document.querySelector('#rank-studies')
    window.__rankTexts = [b.textContent]
    new MutationObserver(() => window.__rankTexts.push(`${b.textContent}|${b.disabled}`)).observe(b, { childList: true, characterData: true, subtree: true, attributes: true })
  })
  await page.click('#rank-studies')
  await page.waitForSelector('#studies-table .badge.suggested', { timeout: 180000 })
  await page.waitForSelector('#exemplar-hint:not([hidden])', { timeout: 30000 })
  await page.waitForFunction(() => !document.querySelector('#rank-studies').disabled, null, { timeout: 30000 })
  out.button_texts = await page.evaluate(() => window.__rankTexts)
  out.hint = await page.locator('#exemplar-hint').innerText()
  out.cells = await cells(page)
  if (SHOTS) {
    fs.mkdirSync(SHOTS, { recursive: true })
    await page.locator('#studies-table').scrollIntoViewIfNeeded()
    await page.screenshot({ path: path.join(SHOTS, '14_exemplar_suggestion.png') })
  }
  // a study uploaded after the ranking (through the REST API): Refresh shows the ranking is stale
  const form = new FormData()
  form.append('file', new Blob([fs.readFileSync(EXTRA)]), path.basename(EXTRA))
  const res = await fetch(`${BASE}/api/v1/projects/${PID}/studies`, { method: 'POST', body: form, headers: { Authorization: `Bearer ${KEY}` } })
  if (res.status !== 201) throw new Error(`upload of ${EXTRA}: ${res.status} ${await res.text()}`)
  out.extra_id = (await res.json()).id
  await page.click('#refresh-studies')
  await page.waitForFunction((n) => document.querySelectorAll('#studies-table tbody tr').length > n, Number(N), { timeout: 30000 })
  await page.waitForFunction(() => /added since/.test(document.querySelector('#exemplar-hint')?.innerText ?? ''), null, { timeout: 30000 })
  out.hint_after = await page.locator('#exemplar-hint').innerText()
  out.cells_after = await cells(page)
  // the suggestion's button opens that study for painting
  await page.click('#exemplar-hint button.annotate-suggested')
  await page.waitForFunction(() => window.__elsnet.ready() && !document.querySelector('#annotate-tools').hidden, null, { timeout: 60000 })
  out.opened_for_annotation = await page.evaluate(() => location.hash)
})
