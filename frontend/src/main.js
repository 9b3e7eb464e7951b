// ELSNet web page: projects, cohort upload, NiiVue viewer + exemplar painting, training, review.
// Talks only to the public REST API (docs/API.md) through ./api.js.

import './style.css'
import * as api from './api.js'
import { $, $$, h, PALETTE, state, showMessage, showError, guarded, fmtDate, labelChips, setCrumbs } from './ui.js'
import { openProject } from './project.js'
import { viewer } from './studyview.js'
import { stopFollowing } from './training.js'
import { hideKeys, refreshKeys } from './apikeys.js'
import { keyStateText } from './integrationtext.js'
import { hideAudit, refreshAudit } from './audit.js'

// ---------------------------------------------------------------- API key
function renderKeyState(text, ok) {
  const el = $('#key-state')
  el.textContent = text
  el.style.color = ok === undefined ? '' : ok ? '#8ce99a' : '#ffa8a8'
}

async function checkKey() {
  if (!api.getKey()) {
    renderKeyState('no key: enter one to start', false)
    return false
  }
  try {
    const me = await api.get('/api/v1/keys/me')
    state.key = me
    renderKeyState(keyStateText(me), true)
    document.body.classList.toggle('read-only', me.role === 'reader')
    if (me.role === 'reader') {
      showMessage('This API key may only read: uploads, annotations, training and deletions will be refused. Ask whoever runs the service for an editor key to change anything.', 'info', 12000)
    }
    return true
  } catch (e) {
    renderKeyState(e.status === 401 ? 'key rejected' : 'service unreachable', false)
    showError(e, 'API key')
    return false
  }
}

$('#key-form').addEventListener('submit', async (ev) => {
  ev.preventDefault()
  api.setKey($('#api-key').value.trim())
  $('#api-key').value = ''
  if (await checkKey()) route()
})
$('#key-forget').addEventListener('click', () => {
  api.setKey('')
  state.key = null
  document.body.classList.remove('read-only')
  renderKeyState('key forgotten', false)
  hideKeys()
  hideAudit()
})

// ---------------------------------------------------------------- routing
function route() {
  const m = /^#\/projects\/([^/]+)(?:\/(\w+))?/.exec(location.hash)
  if (m) openProject(m[1], m[2] ?? 'cohort')
  else showProjects()
}
window.addEventListener('hashchange', route)


// ---------------------------------------------------------------- projects
async function showProjects() {
  stopFollowing()
  state.project = null
  $('#projects-view').hidden = false
  $('#project-view').hidden = true
  setCrumbs(h('a', { href: '#/' }, 'Projects'))
  if (!api.getKey()) {
    hideAudit()
    return hideKeys()
  }
  refreshKeys() // the API keys card, for admin keys only
  refreshAudit() // the audit trail, for admin keys only
  const res = await guarded('Loading projects', () => api.get('/api/v1/projects'))
  if (!res) return
  state.projects = res.data
  const tbody = $('#projects-table tbody')
  tbody.replaceChildren(
    ...res.data.map((p) =>
      h('tr', { dataset: { projectId: p.id } },
        h('td', {}, h('a', { href: `#/projects/${p.id}` }, p.name)),
        h('td', {}, labelChips(p)),
        h('td', {}, p.study_count ?? ''),
        h('td', {}, fmtDate(p.created_at)),
        h('td', { class: 'actions' },
          h('button', { onclick: () => (location.hash = `#/projects/${p.id}`) }, 'Open'), ' ',
          h('button', { class: 'delete-project danger', onclick: () => deleteProject(p) }, 'Delete'),
        ),
      ),
    ),
  )
  $('#projects-empty').hidden = res.data.length > 0
}

async function deleteProject(p) {
  const msg = `Delete project “${p.name}” for good? Its ${p.study_count ?? 0} studies, annotations, masks, models and jobs are removed from the service.`
  if (!confirm(msg)) return
  // a refusal (409: a job is queued or running) shows the service's reason, which names the job
  const done = await guarded(`Deleting project ${p.name}`, () => api.del(`/api/v1/projects/${p.id}`).then(() => true))
  if (!done) return
  showMessage(`Project “${p.name}” deleted.`, 'ok')
  showProjects()
}

function addLabelRow(name = '', color) {
  const rows = $('#label-rows')
  const n = rows.children.length + 1
  const row = h('div', { class: 'label-row' },
    h('span', { class: 'val' }, n),
    h('input', { class: 'label-name', placeholder: 'label name, e.g. liver', value: name, required: true }),
    h('input', { class: 'label-color', type: 'color', value: color ?? PALETTE[(n - 1) % PALETTE.length] }),
    h('button', { type: 'button', class: 'ghost', title: 'remove', onclick: () => { row.remove(); renumber() } }, '×'),
  )
  rows.append(row)
}
function renumber() {
  $$('#label-rows .label-row .val').forEach((e, i) => (e.textContent = i + 1))
}
$('#add-label').addEventListener('click', () => addLabelRow())
addLabelRow('liver')

$('#project-form').addEventListener('submit', async (ev) => {
  ev.preventDefault()
  const labels = {}
  const colors = {}
  $$('#label-rows .label-row').forEach((row, i) => {
    labels[String(i + 1)] = $('.label-name', row).value.trim()
    colors[String(i + 1)] = $('.label-color', row).value
  })
  if (!Object.keys(labels).length) return showMessage('Add at least one label.', 'error')
  const body = { name: $('#project-name').value.trim(), labels, colors, auto_segment: $('#project-auto').checked }
  const p = await guarded('Creating the project', () =>
    api.post('/api/v1/projects', body, { headers: { 'Idempotency-Key': crypto.randomUUID() } }),
  )
  if (!p) return
  showMessage(`Project “${p.name}” created.`, 'ok')
  $('#project-form').reset()
  $('#label-rows').replaceChildren()
  addLabelRow('liver')
  location.hash = `#/projects/${p.id}`
})


// ---------------------------------------------------------------- test hook
// Read-only helpers for the browser test (tests/e2e/browser/flow.mjs): where the paint view is
// on screen, what is painted, and how NiiVue maps a screen point to voxels and millimetres.
window.__elsnet = {
  state,
  ready: () => Boolean(viewer?.back),
  paintTileRect: () => viewer?.tileRectCss(),
  pickAt: (clientX, clientY) => viewer?.pick(viewer.eventCanvasXY({ clientX, clientY })) ?? null,
  paintedVoxels: () => state.editor?.paintedVoxels() ?? [],
  touchedSlices: () => state.editor?.touchedSlices() ?? [],
  location: () => viewer?.location() ?? null,
  dims: () => viewer?.dims() ?? null,
  goToSlice: (k) => viewer?.goToSlice(k),
  /** Painted voxels that the display does not show with their label (0 = display and data agree). */
  displayMismatches: () => {
    const bmp = viewer?.nv.drawBitmap
    if (!bmp) return -1
    const d = viewer.back.dimsRAS
    const painted = state.editor.paintedVoxels()
    let bad = 0
    for (const [i, j, k, v] of painted) {
      const r = viewer.nativeToRas([i, j, k])
      if (bmp[r[0] + d[1] * (r[1] + d[2] * r[2])] !== v) bad++
    }
    const shown = bmp.reduce((a, v) => a + (v ? 1 : 0), 0)
    return bad + Math.abs(shown - painted.length)
  },
}

// ---------------------------------------------------------------- start
checkKey().then(() => route())
