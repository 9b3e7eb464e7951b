// End-to-end flow of the web page in headless Chromium (driven by tests/e2e/test_browser.py).
//
// Env: ELSNET_URL (service base URL), ELSNET_KEY (API key), ELSNET_SAMPLES (paths, joined by
// the OS path separator ':'; the first is annotated), ELSNET_SHOTS (folder for screenshots),
// ELSNET_DOWNLOADS (folder for downloaded files), ELSNET_STOP_AFTER (optional: 'annotate').
// Prints one JSON object on stdout (what was painted, ids, downloaded files); logs on stderr.

import { createRequire } from 'node:module'
import fs from 'node:fs'
import path from 'node:path'

const require = createRequire(path.resolve(process.env.ELSNET_FRONTEND ?? 'frontend', 'package.json'))
const { chromium } = require('playwright-core')

const BASE = process.env.ELSNET_URL
const KEY = process.env.ELSNET_KEY
const SAMPLES = (process.env.ELSNET_SAMPLES ?? '').split(':').filter(Boolean)
const REFERENCE = process.env.ELSNET_REFERENCE || '' // an expert label map of the second sample (optional)
const SHOTS = process.env.ELSNET_SHOTS
const DOWNLOADS = process.env.ELSNET_DOWNLOADS ?? fs.mkdtempSync('/tmp/elsnet-dl-')
const STOP_AFTER = process.env.ELSNET_STOP_AFTER ?? ''
const LABEL_FILE = process.env.ELSNET_LABEL_FILE ?? ''
const ORIENTED = process.env.ELSNET_ORIENTED ?? '' // a study whose third voxel axis is not axial
const TRAIN_TIMEOUT = Number(process.env.ELSNET_TRAIN_TIMEOUT_S ?? 1200) * 1000

const log = (...a) => console.error(`[flow ${new Date().toISOString().slice(11, 19)}]`, ...a)
const out = { steps: [] }
const step = (name) => {
  out.steps.push(name)
  log(name)
}

async function shot(page, name) {
  if (!SHOTS) return
  fs.mkdirSync(SHOTS, { recursive: true })
  await page.waitForTimeout(300)
  await page.evaluate(() => document.querySelectorAll('.msg:not(.error)').forEach((m) => m.remove())) // transient toasts
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) })
}

/** A second project with one study stored in another voxel order: paint a stroke in its slice plane and save. */
async function paintOriented(file) {
  step(`orientation: a study whose slices are not axial (${path.basename(file)})`)
  const res = {}
  await page.goto(`${BASE}/#/`)
  await page.fill('#project-name', `orientation ${new Date().toISOString()}`)
  await page.click('#project-create')
  await page.waitForFunction(() => /#\/projects\/[^/]+/.test(location.hash) && window.__elsnet.state.project)
  res.project_id = await page.evaluate(() => window.__elsnet.state.project.id)
  await page.setInputFiles('#file-input', file)
  await page.waitForSelector('#upload-list li.ok', { timeout: 120000 })
  await page.waitForSelector('#studies-table tbody tr button.annotate')
  res.study_id = await page.locator('#studies-table tbody tr').first().getAttribute('data-study-id')
  await page.click('#studies-table tbody tr button.annotate')
  await page.waitForFunction(() => window.__elsnet.ready() && !document.querySelector('#annotate-tools').hidden, null, { timeout: 60000 })
  res.dims = await page.evaluate(() => window.__elsnet.dims())
  res.paint_view = await page.locator('#paint-view').textContent()
  res.slice = Math.floor(res.dims[2] / 2)
  await page.evaluate((kk) => window.__elsnet.goToSlice(kk), res.slice)
  await page.evaluate(() => {
    const s = document.querySelector('#brush-size')
    s.value = '2'
    s.dispatchEvent(new Event('input'))
  })
  await page.waitForTimeout(300)
  const tile = await page.evaluate(() => window.__elsnet.paintTileRect())
  const side = Math.min(tile.width, tile.height)
  const r = { left: tile.left + (tile.width - side) / 2, top: tile.top + (tile.height - side) / 2, width: side, height: side }
  const y = r.top + 0.5 * r.height
  const [x0, x1] = [r.left + 0.3 * r.width, r.left + 0.6 * r.width]
  res.stroke = {
    start: await page.evaluate(([x, yy]) => window.__elsnet.pickAt(x, yy), [x0, y]),
    end: await page.evaluate(([x, yy]) => window.__elsnet.pickAt(x, yy), [x1, y]),
    brush_radius: 2,
  }
  await page.mouse.move(x0, y)
  await page.mouse.down()
  for (let t = 1; t <= 10; t++) await page.mouse.move(x0 + ((x1 - x0) * t) / 10, y)
  await page.mouse.up()
  res.painted = await page.evaluate(() => window.__elsnet.paintedVoxels())
  res.touched = await page.evaluate(() => window.__elsnet.touchedSlices())
  await page.waitForTimeout(100)
  res.display_mismatches = await page.evaluate(() => window.__elsnet.displayMismatches())
  await shot(page, '08_oriented_sagittal')
  await page.evaluate(() => delete document.body.dataset.lastSave)
  await page.click('#annot-save')
  await page.waitForFunction(() => document.body.dataset.lastSave || document.querySelectorAll('.msg.error').length, null, { timeout: 60000 })
  res.saved = Boolean(await page.evaluate(() => document.body.dataset.lastSave))
  return res
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--enable-unsafe-swiftshader'],
})
let exitCode = 0
const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, acceptDownloads: true })
const consoleErrors = []
page.on('console', (m) => {
  if (m.type() === 'error') consoleErrors.push(m.text())
  if (process.env.ELSNET_DEBUG) log('console', m.type(), m.text())
})
page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`))
page.on('dialog', (d) => d.accept()) // "discard unsaved changes?" confirmations

try {
  // ---- key
  step('enter the API key')
  await page.goto(BASE)
  await page.fill('#api-key', 'not-a-valid-key')
  await page.click('#key-use')
  await page.waitForFunction(() => document.querySelector('#key-state').textContent.includes('rejected'))
  out.bad_key_message = await page.locator('.msg.error').first().textContent()
  await page.evaluate(() => document.querySelectorAll('.msg').forEach((m) => m.remove()))
  await page.fill('#api-key', KEY)
  await page.click('#key-use')
  await page.waitForFunction(() => document.querySelector('#key-state').textContent.includes('accepted'))
  out.session_key_only = await page.evaluate(() => sessionStorage.getItem('elsnet.apiKey') !== null && localStorage.length === 0)

  // ---- project
  step('create a project')
  const name = `e2e ${new Date().toISOString()}`
  await page.fill('#project-name', name)
  await page.fill('#label-rows .label-row:nth-child(1) .label-name', 'liver')
  for (const [i, label] of ['kidney_right', 'kidney_left', 'spleen'].entries()) {
    await page.click('#add-label')
    await page.fill(`#label-rows .label-row:nth-child(${i + 2}) .label-name`, label)
  }
  await page.click('#project-create')
  await page.waitForFunction(() => /#\/projects\/[^/]+/.test(location.hash))
  out.project_id = await page.evaluate(() => /#\/projects\/([^/]+)/.exec(location.hash)[1])
  await page.waitForFunction((id) => window.__elsnet.state.project?.id === id, out.project_id)

  // ---- upload (plus one bad file, to see the API's message shown per file)
  step('upload studies')
  // dropped onto the drop zone together, as a person would drag them from a file manager
  const dropped = [
    ...SAMPLES.map((f) => ({ name: path.basename(f), b64: fs.readFileSync(f).toString('base64') })),
    { name: 'not_a_scan.nii.gz', b64: Buffer.from('this is not a NIfTI file').toString('base64') },
  ]
  await page.evaluate((files) => {
    const dt = new DataTransfer()
    for (const f of files) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name))
    const zone = document.querySelector('#dropzone')
    zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }))
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }))
  }, dropped)
  await page.waitForFunction((n) => document.querySelectorAll('#upload-list li.ok, #upload-list li.rejected').length === n, SAMPLES.length + 1, { timeout: 180000 })
  out.upload_ok = await page.locator('#upload-list li.ok').count()
  out.upload_rejected_text = await page.locator('#upload-list li.rejected .err').allTextContents()
  out.upload_progress_texts = await page.locator('#upload-list li.ok .progress span').allTextContents()
  await page.waitForFunction((n) => document.querySelectorAll('#studies-table tbody tr').length >= n, SAMPLES.length)
  out.thumbs_loaded = await page
    .waitForFunction(() => [...document.querySelectorAll('#studies-table img.thumb')].every((i) => i.complete && i.naturalWidth > 0), null, { timeout: 30000 })
    .then(() => true)
    .catch(() => false)
  await shot(page, '01_cohort_upload')
  const rows = await page.evaluate(() => window.__elsnet.state.studies.map((s) => ({ id: s.id, name: s.name, shape: s.shape })))
  out.studies = rows
  const first = path.basename(SAMPLES[0])
  const target = rows.find((r) => first.startsWith(r.name.replace(/\.nii(\.gz)?$/, ''))) ?? rows[0]
  out.study_id = target.id

  // ---- paint
  step('open the study for annotation')
  await page.click(`#studies-table tr[data-study-id="${target.id}"] button.annotate`)
  await page.waitForFunction(() => window.__elsnet.ready() && !document.querySelector('#annotate-tools').hidden, null, { timeout: 60000 })
  await page.waitForTimeout(500)
  const dims = await page.evaluate(() => window.__elsnet.dims())
  out.dims = dims
  out.window_initial = await page.locator('#wl-readout').textContent()
  const k = Math.floor(dims[2] / 2)
  await page.evaluate((kk) => window.__elsnet.goToSlice(kk), k)
  await page.waitForTimeout(200)
  const tile = await page.evaluate(() => window.__elsnet.paintTileRect())
  // the image is centred in its tile and fits the shorter side
  const side = Math.min(tile.width, tile.height)
  const r = { left: tile.left + (tile.width - side) / 2, top: tile.top + (tile.height - side) / 2, width: side, height: side }
  out.tile = r

  step('navigate slices with the keyboard and the wheel; window presets')
  const sliceNow = () => page.evaluate(() => window.__elsnet.location().native[2])
  await page.mouse.move(r.left + r.width / 2, r.top + r.height / 2)
  await page.keyboard.press('ArrowUp')
  const afterUp = await sliceNow()
  await page.keyboard.press('ArrowDown')
  await page.keyboard.press('ArrowDown')
  const afterDown = await sliceNow()
  await page.mouse.wheel(0, 120)
  await page.waitForTimeout(300)
  const afterWheel = await sliceNow()
  out.navigation = { start: k, up: afterUp, down: afterDown, wheel: afterWheel }
  await page.click('#wl-ct')
  out.window_ct = await page.locator('#wl-readout').textContent()
  await page.click('#wl-mr')
  out.window_mr = await page.locator('#wl-readout').textContent()
  await page.evaluate((kk) => window.__elsnet.goToSlice(kk), k)
  await page.waitForTimeout(200)
  if ((await sliceNow()) !== k) throw new Error('could not go back to the middle slice')

  step('paint a stroke with label 1 (brush radius 2)')
  const y = r.top + 0.55 * r.height
  const x0 = r.left + 0.3 * r.width
  const x1 = r.left + 0.55 * r.width
  out.stroke = {
    start: await page.evaluate(([x, yy]) => window.__elsnet.pickAt(x, yy), [x0, y]),
    end: await page.evaluate(([x, yy]) => window.__elsnet.pickAt(x, yy), [x1, y]),
    brush_radius: 2,
  }
  await page.mouse.move(x0, y)
  await page.mouse.down()
  for (let t = 1; t <= 12; t++) await page.mouse.move(x0 + ((x1 - x0) * t) / 12, y)
  await page.mouse.up()

  step('draw a closed square with label 2 and fill it')
  await page.click('#legend li[data-label="2"]')
  await page.evaluate(() => {
    const s = document.querySelector('#brush-size')
    s.value = '0'
    s.dispatchEvent(new Event('input'))
  })
  const sq = { l: r.left + 0.62 * r.width, t: r.top + 0.3 * r.height, s: 0.1 * r.width }
  const corners = [[sq.l, sq.t], [sq.l + sq.s, sq.t], [sq.l + sq.s, sq.t + sq.s], [sq.l, sq.t + sq.s], [sq.l, sq.t]]
  await page.mouse.move(...corners[0])
  await page.mouse.down()
  for (const c of corners.slice(1)) await page.mouse.move(c[0], c[1], { steps: 8 })
  await page.mouse.up()
  const beforeFill = (await page.evaluate(() => window.__elsnet.paintedVoxels())).length
  await page.click('#tool-buttons button[data-tool="fill"]')
  await page.mouse.click(sq.l + sq.s / 2, sq.t + sq.s / 2)
  const afterFill = (await page.evaluate(() => window.__elsnet.paintedVoxels())).length
  out.fill = { before: beforeFill, after: afterFill }

  step('undo / redo the fill')
  await page.click('#undo')
  out.fill.after_undo = (await page.evaluate(() => window.__elsnet.paintedVoxels())).length
  await page.click('#redo')
  out.fill.after_redo = (await page.evaluate(() => window.__elsnet.paintedVoxels())).length

  out.painted = await page.evaluate(() => window.__elsnet.paintedVoxels())
  out.touched = await page.evaluate(() => window.__elsnet.touchedSlices())
  out.slice = k
  await page.waitForTimeout(100)
  out.display_mismatches = await page.evaluate(() => window.__elsnet.displayMismatches())
  await shot(page, '02_annotate')

  step('save the annotation')
  await page.click('#annot-save')
  await page.waitForFunction(() => document.body.dataset.lastSave || [...document.querySelectorAll('.msg.error')].length, null, { timeout: 60000 })
  const saveErr = await page.locator('.msg.error').allTextContents()
  if (saveErr.length) throw new Error(`save failed: ${saveErr.join(' | ')}`)
  out.saved = true

  if (STOP_AFTER !== 'annotate') {
    // ---- training
    step('start a tiny training')
    await page.click('.tabs button[data-tab="training"]')
    await page.uncheck('#auto-segment')
    await page.waitForFunction(() => window.__elsnet.state.project.auto_segment === false)
    await page.check('#auto-segment')
    await page.waitForFunction(() => window.__elsnet.state.project.auto_segment === true)
    out.auto_segment_toggled = true
    await page.selectOption('#preset', 'tiny')
    await page.click('#train-start')
    await page.waitForSelector('#job-card:not([hidden])')
    const live = await page
      .waitForFunction(() => {
        const st = document.querySelector('#job-card').dataset.state
        if (['succeeded', 'failed', 'cancelled'].includes(st)) return 'ended'
        const pct = +document.querySelector('#job-progress').dataset.progress
        return st === 'running' && pct >= 25 && document.querySelectorAll('#loss-chart polyline').length ? 'live' : false
      }, null, { timeout: TRAIN_TIMEOUT, polling: 250 })
      .then((h) => h.jsonValue())
      .then((v) => v === 'live')
    if (live) {
      out.live = { eta: await page.locator('#job-eta').textContent(), stage: await page.locator('#job-stage').textContent(), progress: await page.locator('#job-progress').getAttribute('data-progress') }
      await shot(page, '03_training_live')
    }
    await page.waitForFunction(() => ['succeeded', 'failed', 'cancelled'].includes(document.querySelector('#job-card').dataset.state), null, { timeout: TRAIN_TIMEOUT, polling: 1000 })
    out.train_state = await page.locator('#job-card').getAttribute('data-state')
    out.train_progress = await page.locator('#job-progress').getAttribute('data-progress')
    out.chart_points = await page.evaluate(() => document.querySelectorAll('#loss-chart polyline').length ? document.querySelector('#loss-chart polyline').getAttribute('points').split(' ').length : 0)
    out.train_message = await page.locator('#job-message').textContent()
    await shot(page, '03_training')
    if (out.train_state !== 'succeeded') throw new Error(`training ended ${out.train_state}: ${out.train_message}`)

    // ---- masks
    step('wait for the cohort masks')
    await page.click('.tabs button[data-tab="cohort"]')
    const hasMask = async () => page.evaluate(async () => {
      const st = window.__elsnet.state
      const res = await fetch(`/api/v1/projects/${st.project.id}/studies`, { headers: { Authorization: `Bearer ${sessionStorage.getItem('elsnet.apiKey')}` } })
      return (await res.json()).data.filter((s) => s.mask).length
    })
    let deadline = Date.now() + 120000
    while ((await hasMask()) === 0 && Date.now() < deadline) await page.waitForTimeout(2000)
    if ((await hasMask()) === 0) {
      step('no mask after training: start "Segment the cohort"')
      await page.click('.tabs button[data-tab="training"]')
      await page.click('#infer-start')
      deadline = Date.now() + TRAIN_TIMEOUT
      while ((await hasMask()) < SAMPLES.length && Date.now() < deadline) await page.waitForTimeout(2000)
      await page.click('.tabs button[data-tab="cohort"]')
    }
    await page.click('#refresh-studies')
    await page.waitForSelector('#studies-table button.dl-nifti', { timeout: 30000 })
    await page.waitForTimeout(1500)
    await shot(page, '04_cohort_review')
    // what the table shows beside what the page's state (the API's list it rendered) holds
    out.confidence_cells = await page.evaluate(() => [...document.querySelectorAll('#studies-table tbody tr')].map((r) => ({
      id: r.dataset.studyId,
      text: r.querySelector('.badge.confidence')?.textContent ?? null,
      confidence: window.__elsnet.state.studies.find((s) => s.id === r.dataset.studyId)?.mask?.confidence ?? null,
    })))

    step('reopen the exemplar: the slice to paint next')
    await page.click(`#studies-table tr[data-study-id="${target.id}"] button.annotate`)
    await page.waitForFunction(() => window.__elsnet.ready() && !document.querySelector('#annotate-tools').hidden && document.querySelector('#overlay-source').textContent.includes('annotation'), null, { timeout: 60000 })
    await page.waitForTimeout(300)
    const hint = await page.evaluate(() => {
      const b = document.querySelector('#next-slice')
      return { shown: !b.hidden, slice: b.dataset.slice ?? null, painted: b.dataset.painted ?? null, text: document.querySelector('#next-slice-text').textContent }
    })
    if (hint.shown) {
      await page.click('#next-slice-go')
      await page.waitForTimeout(200)
      hint.went_to = await sliceNow()
      hint.readout = await page.locator('#loc-readout').textContent()
      await shot(page, '09_next_slice')
    }
    out.next_slice = hint
    // the page's side of the hint, whatever this tiny model suggested: a model record with a
    // suggestion for this study (added to the page's list of models only, not to the service;
    // tests/e2e/test_service_flow.py checks that a real training records one) must show the
    // hint, say when the slice is painted, and "Go to" must move the viewer there
    out.next_slice_page = await page.evaluate(([sid, realShown]) => {
      const st = window.__elsnet.state
      const real = st.models
      const k = st.editor.touchedSlices()[0]
      const other = k > 0 ? 0 : 1
      const show = (slice) => {
        st.models = [{ id: 'page-check', created_at: '9999-01-01T00:00:00', exemplar_study_ids: [sid], metrics: { next_slice_to_paint: [{ study_id: sid, slice, gap_mm: 42, organ_extent: [0, slice] }] } }, ...real]
        document.dispatchEvent(new Event('models-changed'))
        const b = document.querySelector('#next-slice')
        return { shown: !b.hidden, slice: b.dataset.slice, painted: b.dataset.painted, text: document.querySelector('#next-slice-text').textContent }
      }
      const res = { unpainted: show(other), painted: show(k), other, k }
      show(other)
      document.querySelector('#next-slice-go').click()
      res.went_to = window.__elsnet.location().native[2]
      st.models = real
      document.dispatchEvent(new Event('models-changed'))
      res.restored = !document.querySelector('#next-slice').hidden === realShown
      return res
    }, [target.id, hint.shown])
    await page.click('.tabs button[data-tab="cohort"]') // the next study opened replaces this one

    step('show what the training made of the painted slice')
    await page.click(`#studies-table tr[data-study-id="${target.id}"] button.open`)
    await page.waitForFunction(() => window.__elsnet.ready() && !document.querySelector('#show-completion').hidden, null, { timeout: 60000 })
    await page.click('#show-completion')
    await page.waitForFunction(() => document.querySelector('#overlay-source').textContent.includes('learnt from'), null, { timeout: 60000 })
    out.completion = await page.evaluate(() => ({
      text: document.querySelector('#overlay-source').textContent,
      model: document.querySelector('#show-completion').dataset.model,
      organ_voxels: window.__elsnet.state.editor.lab.reduce((a, v) => a + (v > 0 && v < 255 ? 1 : 0), 0),
    }))
    await shot(page, '10_completion')
    await page.click('.tabs button[data-tab="cohort"]')

    step('open a mask overlay')
    const other = await page.evaluate((ex) => (window.__elsnet.state.studies.find((s) => s.mask && s.id !== ex) ?? window.__elsnet.state.studies.find((s) => s.mask)).id, target.id)
    out.review_study_id = other
    await page.click(`#studies-table tr[data-study-id="${other}"] button.open`)
    await page.waitForFunction(() => document.querySelector('#overlay-source').textContent.includes('mask'), null, { timeout: 60000 })
    out.mask_voxels_shown = await page.evaluate(() => window.__elsnet.state.editor.lab.reduce((a, v) => a + (v ? 1 : 0), 0))
    await page.click('#view-buttons button[data-view="multiplanar"]')
    await page.waitForTimeout(500)
    await shot(page, '05_review_mask')

    step('download the mask (NIfTI)')
    await page.click('.tabs button[data-tab="cohort"]')
    const [dl] = await Promise.all([
      page.waitForEvent('download', { timeout: 60000 }),
      page.click(`#studies-table tr[data-study-id="${other}"] button.dl-nifti`),
    ])
    const dlPath = path.join(DOWNLOADS, dl.suggestedFilename())
    await dl.saveAs(dlPath)
    out.download = { path: dlPath, name: dl.suggestedFilename(), bytes: fs.statSync(dlPath).size }
    const [seg] = await Promise.all([
      page.waitForEvent('download', { timeout: 120000 }),
      page.click(`#studies-table tr[data-study-id="${other}"] button.dl-seg`),
    ])
    const segPath = path.join(DOWNLOADS, `seg_${seg.suggestedFilename()}`)
    await seg.saveAs(segPath)
    out.download_seg = { path: segPath, name: seg.suggestedFilename(), bytes: fs.statSync(segPath).size }
    step('download the whole cohort: all masks (zip) and the organ volumes (CSV)')
    for (const [button, key] of [['#export-masks', 'download_all'], ['#export-volumes', 'download_csv']]) {
      // messages sit top right, over the card's buttons when the page is scrolled: clear them first
      await page.evaluate(() => document.querySelectorAll('.msg').forEach((m) => m.remove()))
      const [file] = await Promise.all([page.waitForEvent('download', { timeout: 120000 }), page.click(button)])
      const filePath = path.join(DOWNLOADS, `cohort_${file.suggestedFilename()}`)
      await file.saveAs(filePath)
      out[key] = { path: filePath, name: file.suggestedFilename() }
    }
    if (REFERENCE) {
      step('upload an expert reference mask for a segmented study and measure the model on it')
      const stem = path.basename(REFERENCE).replace(/\.nii(\.gz)?$/i, '')
      const refStudy = await page.evaluate((st) => window.__elsnet.state.studies.find((s) => s.name === st && s.mask)?.id ?? null, stem)
      if (!refStudy) throw new Error(`no segmented study named ${stem} for the reference mask`)
      await page.setInputFiles(`#studies-table tr[data-study-id="${refStudy}"] input.reference-file`, REFERENCE)
      await page.waitForSelector(`#studies-table tr[data-study-id="${refStudy}"] .badge.reference`, { timeout: 60000 })
      await page.click('.tabs button[data-tab="models"]')
      await page.waitForSelector('#models-table button.evaluate', { timeout: 30000 })
      const modelId = await page.getAttribute('#models-table button.evaluate', 'data-model-id')
      await page.evaluate(() => document.querySelectorAll('.msg').forEach((m) => m.remove()))
      await page.click('#models-table button.evaluate')
      await page.waitForSelector(`#evaluations .evaluation[data-model-id="${modelId}"] .mean-dice`, { timeout: 300000 })
      if (await page.isVisible('#evaluations-card')) await page.locator('#evaluations-card').scrollIntoViewIfNeeded()
      await page.waitForTimeout(500)
      await shot(page, '13_evaluation')
      out.evaluation = await page.evaluate((mid) => {
        const block = document.querySelector(`#evaluations .evaluation[data-model-id="${mid}"]`)
        return {
          model_id: mid,
          mean_text: block.querySelector('.mean-dice').textContent,
          organs: [...block.querySelectorAll('table.organ-dice tbody tr')].map((r) => ({ label: r.dataset.label, dice: r.querySelector('.dice').textContent })),
          studies: [...block.querySelectorAll('table.study-dice tbody tr')].map((r) => r.dataset.studyId),
        }
      }, modelId)
      out.evaluation.study_id = refStudy
      await page.click('.tabs button[data-tab="cohort"]')
    }

    step('correct the mask of the reviewed study and save it (it becomes an exemplar)')
    await page.click(`#studies-table tr[data-study-id="${other}"] button.correct`)
    await page.waitForFunction(() => !document.querySelector('#annotate-tools').hidden && document.querySelector('#overlay-source').textContent.includes('correcting'), null, { timeout: 60000 })
    out.correction_touched = (await page.evaluate(() => window.__elsnet.touchedSlices())).length
    await page.evaluate(() => delete document.body.dataset.lastSave)
    await page.click('#annot-save')
    await page.waitForFunction(() => document.body.dataset.lastSave || document.querySelectorAll('.msg.error').length, null, { timeout: 60000 })
    out.correction_saved = Boolean(await page.evaluate(() => document.body.dataset.lastSave))

    if (LABEL_FILE) {
      step('load an existing label file as the starting annotation (not saved)')
      await page.click('.tabs button[data-tab="cohort"]')
      await page.click(`#studies-table tr[data-study-id="${target.id}"] button.annotate`)
      await page.waitForFunction(() => !document.querySelector('#annotate-tools').hidden, null, { timeout: 60000 })
      await page.setInputFiles('#annot-file', LABEL_FILE)
      await page.waitForFunction(() => document.querySelector('#overlay-source').textContent.includes('loaded label file'), null, { timeout: 30000 })
      out.label_file = {
        touched: (await page.evaluate(() => window.__elsnet.touchedSlices())).length,
        painted: (await page.evaluate(() => window.__elsnet.paintedVoxels())).length,
      }
      await page.click('#view-buttons button[data-view="multiplanar"]')
      await shot(page, '07_label_file')
      await page.click('#annot-cancel')
    }

    step('a second tiny training (two exemplars now)')
    await page.click('.tabs button[data-tab="training"]')
    await page.selectOption('#preset', 'tiny')
    const firstJob = await page.evaluate(() => window.__elsnet.state.job?.id)
    await page.click('#train-start')
    await page.waitForFunction((id) => window.__elsnet.state.job && window.__elsnet.state.job.id !== id, firstJob)
    await page.waitForFunction(() => ['succeeded', 'failed', 'cancelled'].includes(document.querySelector('#job-card').dataset.state), null, { timeout: TRAIN_TIMEOUT, polling: 1000 })
    out.train2_state = await page.locator('#job-card').getAttribute('data-state')

    step('start a training and cancel it')
    await page.selectOption('#preset', 'fast')
    const secondJob = await page.evaluate(() => window.__elsnet.state.job?.id)
    await page.click('#train-start')
    await page.waitForFunction((id) => window.__elsnet.state.job && window.__elsnet.state.job.id !== id, secondJob)
    out.cancel_job_id = await page.evaluate(() => window.__elsnet.state.job.id)
    await page.click('#job-cancel')
    await page.waitForFunction(() => document.querySelector('#job-card').dataset.state === 'cancelled', null, { timeout: 120000 })
    out.cancel_state = await page.locator('#job-card').getAttribute('data-state')

    step('models: make the older model active')
    await page.click('.tabs button[data-tab="models"]')
    await page.waitForFunction(() => document.querySelectorAll('#models-table tbody tr').length >= 2, null, { timeout: 30000 })
    out.models = await page.locator('#models-table tbody tr').count()
    const older = page.locator('#models-table tbody tr').last()
    out.made_active = await older.getAttribute('data-model-id')
    await older.locator('button.make-active').click()
    await page.waitForFunction((id) => window.__elsnet.state.project.active_model_id === id && document.querySelector(`#models-table tr[data-model-id="${id}"] .badge.ok`), out.made_active, { timeout: 30000 })
    await shot(page, '06_models')
  }
  if (ORIENTED) out.oriented = await paintOriented(ORIENTED)
  await page.goto(`${BASE}/#/`)
  await page.waitForSelector('#projects-table tbody tr')
  await shot(page, '00_projects')
} catch (e) {
  exitCode = 1
  out.error = String(e?.stack ?? e)
  log('FAILED', e)
  await page.screenshot({ path: path.join(DOWNLOADS, 'failure.png') }).catch(() => {})
  out.failure_screenshot = path.join(DOWNLOADS, 'failure.png')
} finally {
  out.console_errors = consoleErrors
  await browser.close()
}
process.stdout.write(JSON.stringify(out) + '\n')
process.exit(exitCode)
