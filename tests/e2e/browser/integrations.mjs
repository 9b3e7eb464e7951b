// The web page's Integrations tab (webhooks, deliveries) and API keys card in headless Chromium
// (driven by tests/e2e/test_browser_integrations.py).
//
// Env: ELSNET_URL, ELSNET_KEY (an admin key), ELSNET_PROJECT (a project with two webhooks whose
// deliveries have ended), ELSNET_HOOK_OK / ELSNET_HOOK_DOWN (their URLs), ELSNET_NEW_HOOK (the URL
// to add), ELSNET_BAD_HOST (an allowed-looking URL on a host the operator does not allow),
// ELSNET_SHOTS (optional screenshot folder), ELSNET_FRONTEND, CHROMIUM.
// At each checkpoint it prints {"checkpoint": name, ...} on stdout and waits for one line on stdin
// ("ok" to go on) so the test can look at the service through the REST API meanwhile. The last
// stdout line is the result object; logs go to stderr.

import fs from 'node:fs'
import path from 'node:path'
import { runScript } from './chromium.mjs'
import readline from 'node:readline'

const E = process.env
const BASE = E.ELSNET_URL

const stdin = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]()
async function checkpoint(name, data) {
  console.log(JSON.stringify({ checkpoint: name, ...data }))
  const { value, done } = await stdin.next()
  if (done || value.trim() !== 'ok') throw new Error(`checkpoint ${name}: the test answered ${JSON.stringify(value)}`)
}

async function shot(page, name, fullPage = false) {
  if (!E.ELSNET_SHOTS) return
  fs.mkdirSync(E.ELSNET_SHOTS, { recursive: true })
  await page.locator('#messages .msg').evaluateAll((ms) => ms.forEach((m) => m.remove())) // passing notes
  await page.screenshot({ path: path.join(E.ELSNET_SHOTS, `${name}.png`), fullPage })
}

const hookRow = (page, url) => page.locator('#webhooks-table > tbody > tr:not(.deliveries)').filter({ has: page.locator('td.url', { hasText: url }) })

/** Open a webhook's deliveries and read them as the page shows them. */
async function readDeliveries(page, url) {
  const row = hookRow(page, url)
  const id = await row.getAttribute('data-webhook-id')
  await row.locator('button.deliveries-toggle').click()
  const rows = page.locator(`tr.deliveries[data-webhook-id="${id}"] .deliveries-table tbody tr`)
  await rows.first().waitFor({ timeout: 30000 })
  return {
    id,
    toggle: await row.locator('button.deliveries-toggle').textContent(),
    summary: await page.locator(`tr.deliveries[data-webhook-id="${id}"] .deliveries-summary`).textContent(),
    rows: await rows.evaluateAll((trs) => trs.map((tr) => ({
      state: tr.dataset.state,
      badge: tr.querySelector('.delivery-state').textContent,
      badge_class: tr.querySelector('.delivery-state').className,
      text: tr.innerText,
    }))),
  }
}

/** Submit the add-webhook form and wait for the page's error line. */
async function refusedHook(page, url) {
  await page.fill('#webhook-url', url)
  await page.click('#webhook-add')
  await page.waitForFunction(() => !document.querySelector('#webhook-error').hidden && document.querySelector('#webhook-error').textContent, null, { timeout: 30000 })
  const text = await page.locator('#webhook-error').textContent()
  await page.evaluate(() => { document.querySelector('#webhook-error').hidden = true })
  return text
}

await runScript(async (browser, out) => {
  out.dialogs = []
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  page.on('pageerror', (e) => console.error('page error:', e.message))
  page.on('dialog', (d) => {
    out.dialogs.push(d.message())
    d.accept()
  })
  await page.goto(`${BASE}/`)
  await page.fill('#api-key', E.ELSNET_KEY)
  await page.click('#key-use')
  await page.waitForFunction(() => /accepted/.test(document.querySelector('#key-state').textContent), null, { timeout: 30000 })

  // ---- the project's Integrations tab: the webhooks made over REST and their deliveries
  await page.click(`#projects-table tr[data-project-id="${E.ELSNET_PROJECT}"] a`)
  await page.click('.tabs button[data-tab=integrations]')
  await page.waitForSelector('[data-panel=integrations]:not([hidden]) #webhooks-table tbody tr', { timeout: 30000 })
  out.hash = await page.evaluate(() => location.hash)
  out.listed_before = await page.locator('#webhooks-table td.url').allTextContents()
  out.deliveries_down = await readDeliveries(page, E.ELSNET_HOOK_DOWN)
  out.deliveries_ok = await readDeliveries(page, E.ELSNET_HOOK_OK)

  // ---- add a webhook for two of the three events; the secret is shown once
  out.events_default = await page.locator('#webhook-events input[name=webhook-event]').evaluateAll((bs) => bs.map((b) => [b.value, b.checked]))
  await page.fill('#webhook-url', E.ELSNET_NEW_HOOK)
  await page.uncheck('#webhook-events input[value="job.succeeded"]')
  await page.click('#webhook-add')
  await page.waitForSelector('#webhook-secret:not([hidden]) .once-value', { timeout: 30000 })
  out.secret = await page.locator('#webhook-secret .once-value').inputValue()
  out.secret_box = await page.locator('#webhook-secret').innerText()
  await hookRow(page, E.ELSNET_NEW_HOOK).waitFor({ timeout: 30000 })
  const added = hookRow(page, E.ELSNET_NEW_HOOK)
  out.added = { id: await added.getAttribute('data-webhook-id'), text: await added.innerText() }
  out.events_after_reset = await page.locator('#webhook-events input[name=webhook-event]').evaluateAll((bs) => bs.map((b) => b.checked))
  await page.click('#webhook-secret .once-copy')
  await page.waitForFunction(() => document.querySelector('#webhook-secret .once-copied')?.textContent, null, { timeout: 10000 })
  out.copy_said = await page.locator('#webhook-secret .once-copied').textContent()
  await shot(page, '10_integrations')
  await checkpoint('webhook_added', { webhook_id: out.added.id, secret: out.secret })

  // ---- what the page says when the form or the service refuses
  await page.uncheck('#webhook-events input[value="job.succeeded"]')
  await page.uncheck('#webhook-events input[value="job.failed"]')
  await page.uncheck('#webhook-events input[value="job.cancelled"]')
  out.error_no_event = await refusedHook(page, E.ELSNET_NEW_HOOK)
  await page.check('#webhook-events input[value="job.failed"]')
  out.error_bad_url = await refusedHook(page, 'ftp://pacs.hospital.example/hook')
  out.error_bad_host = await refusedHook(page, E.ELSNET_BAD_HOST)
  out.rows_after_refusals = await page.locator('#webhooks-table > tbody > tr:not(.deliveries)').count()

  // ---- "I have stored it" clears the secret
  await page.click('#webhook-secret .once-done')
  out.secret_cleared = await page.evaluate(() => document.querySelector('#webhook-secret').hidden && !document.querySelector('#webhook-secret .once-value'))

  // ---- delete the added webhook (after the confirmation)
  await hookRow(page, E.ELSNET_NEW_HOOK).locator('button.delete-webhook').click()
  await hookRow(page, E.ELSNET_NEW_HOOK).waitFor({ state: 'detached', timeout: 30000 })
  out.listed_after = await page.locator('#webhooks-table td.url').allTextContents()

  // ---- projects page: the API keys card (this key is an admin key)
  await page.click('#crumbs a[href="#/"]')
  await page.waitForSelector('#keys-card:not([hidden]) #keys-table tbody tr', { timeout: 30000 })
  out.keys_before = await page.locator('#keys-table tbody tr').allInnerTexts()
  await page.fill('#new-key-name', 'PACS bridge')
  out.role_choices = await page.locator('#new-key-role option').evaluateAll((os) => os.map((o) => [o.value, o.selected]))
  await page.selectOption('#new-key-role', 'reader') // least privilege: it reads this project only
  await page.selectOption('#new-key-projects', E.ELSNET_PROJECT)
  await page.click('#new-key-create')
  await page.waitForSelector('#key-created:not([hidden]) .once-value', { timeout: 30000 })
  out.new_key = await page.locator('#key-created .once-value').inputValue()
  out.key_box = await page.locator('#key-created').innerText()
  await page.waitForFunction(() => document.querySelectorAll('#keys-table tbody tr').length === 2, null, { timeout: 30000 })
  const newRow = page.locator('#keys-table tbody tr').filter({ hasText: 'PACS bridge' })
  out.new_key_id = await newRow.getAttribute('data-key-id')
  out.new_key_row = await newRow.innerText()
  await shot(page, '11_api_keys', true) // the card is below the projects
  await checkpoint('key_created', { key_id: out.new_key_id, key: out.new_key })

  out.form_after = {
    role: await page.locator('#new-key-role').inputValue(),
    projects: await page.locator('#new-key-projects').evaluate((s) => [...s.selectedOptions].length),
  }

  // ---- the new key is a reader, not admin: in a second browser tab the card stays hidden, and a
  // change (a new project) is refused with the service's reason shown as the page shows errors
  const tab = await browser.newPage()
  await tab.goto(`${BASE}/`)
  await tab.fill('#api-key', out.new_key)
  const keysAnswer = tab.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/keys', { timeout: 30000 })
  await tab.click('#key-use')
  const keysStatus = (await keysAnswer).status()
  await tab.waitForSelector('#projects-table tbody tr', { timeout: 30000 })
  await tab.waitForTimeout(300)
  out.as_plain_key = {
    accepted: /accepted/.test(await tab.locator('#key-state').textContent()),
    key_state: await tab.locator('#key-state').textContent(),
    read_only_note: await tab.locator('#messages .msg.info').allInnerTexts(),
    card_hidden: await tab.locator('#keys-card').isHidden(),
    errors: await tab.locator('#messages .msg.error').count(),
    keys_status: keysStatus,
    project_rows: await tab.locator('#projects-table tbody tr').count(),
  }
  await tab.fill('#project-name', 'not for readers')
  await tab.click('#project-form button[type="submit"]')
  await tab.waitForSelector('#messages .msg.error', { timeout: 30000 })
  out.reader_create_error = await tab.locator('#messages .msg.error').first().innerText()
  await tab.close()

  // ---- revoke it
  await newRow.locator('button.revoke-key').click()
  await page.waitForFunction((id) => /revoked/.test(document.querySelector(`#keys-table tr[data-key-id="${id}"] .key-state`)?.textContent ?? ''), out.new_key_id, { timeout: 30000 })
  out.new_key_row_after = await page.locator(`#keys-table tr[data-key-id="${out.new_key_id}"]`).innerText()
  out.revoke_buttons_after = await page.locator(`#keys-table tr[data-key-id="${out.new_key_id}"] button.revoke-key`).count()
  out.key_box_cleared = await page.locator('#key-created').isHidden()

  // ---- the page's own key is the last admin key: the service refuses (409) and the page says why
  const own = page.locator('#keys-table tbody tr').filter({ has: page.locator('.badge.in-use') })
  out.own_rows = await own.count()
  await page.locator('#messages .msg').evaluateAll((ms) => ms.forEach((m) => m.remove()))
  await own.locator('button.revoke-key').click()
  await page.waitForSelector('#messages .msg.error', { timeout: 30000 })
  out.last_admin_error = await page.locator('#messages .msg.error').first().textContent()
  out.keys_card_still_shown = await page.locator('#keys-card').isVisible()

  // ---- the audit trail (admin): what was just done is there, newest first; filter by action
  await page.click('#audit-filter button[type=submit]')
  await page.waitForSelector('#audit-card:not([hidden]) #audit-table tbody tr', { timeout: 30000 })
  out.audit_first_rows = await page.locator('#audit-table tbody tr').evaluateAll((rs) => rs.slice(0, 3).map((r) => r.innerText))
  await page.selectOption('#audit-action', 'key.revoke')
  await page.click('#audit-filter button[type=submit]')
  await page.waitForFunction(() => [...document.querySelectorAll('#audit-table tbody tr')].every((r) => r.innerText.includes('key.revoke')), null, { timeout: 30000 })
  out.audit_revokes = await page.locator('#audit-table tbody tr').evaluateAll((rs) => rs.map((r) => r.innerText))
  await page.locator('#audit-card').scrollIntoViewIfNeeded()
  await shot(page, '12_audit_trail', true)
})
process.exit() // the checkpoints' stdin would keep the process alive
