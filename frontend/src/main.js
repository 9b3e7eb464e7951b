// ELSNet web page: projects, cohort upload, NiiVue viewer + exemplar painting, training, review.
// Talks only to the public REST API (docs/API.md) through ./api.js.

import './style.css'
import * as api from './api.js'
import { Viewer } from './viewer.js'
import { LabelEditor } from './annotator.js'
import { niftiLabelMap, gzip } from './nifti.js'
import { LossChart } from './chart.js'

const $ = (sel, root = document) => root.querySelector(sel)
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)]

/** Tiny DOM builder: h('td', {class: 'x', onclick}, 'text', child) */
function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v)
    else if (k === 'class') e.className = v
    else if (k === 'dataset') Object.assign(e.dataset, v)
    else e.setAttribute(k, v === true ? '' : v)
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c))
  return e
}

const PALETTE = ['#e6194b', '#3cb44b', '#ffe119', '#4363d8', '#f58231', '#911eb4', '#46f0f0', '#f032e6', '#bcf60c']
const P = (id) => `/api/v1/projects/${id}`

const state = {
  projects: [],
  project: null,
  tab: 'cohort',
  studies: [],
  jobs: [],
  models: [],
  study: null, // study open in the viewer
  overlaySource: 'none', // 'none' | 'annotation' | 'mask'
  editing: false,
  editor: null,
  tool: 'brush',
  label: 1,
  brush: 2,
  job: null,
  jobAbort: null,
  thumbs: new Map(), // study id + mask stamp -> blob URL
}

// ---------------------------------------------------------------- messages
function showMessage(text, kind = 'info', timeout = kind === 'error' ? 0 : 5000) {
  const box = h('div', { class: `msg ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text)
  box.append(h('button', { 'aria-label': 'close', onclick: () => box.remove() }, '×'))
  $('#messages').append(box)
  if (timeout) setTimeout(() => box.remove(), timeout)
  return box
}

function showError(e, what) {
  if (e?.name === 'AbortError') return
  console.error(what, e)
  showMessage(`${what}: ${e?.message ?? e}`, 'error')
}

async function guarded(what, fn) {
  try {
    return await fn()
  } catch (e) {
    showError(e, what)
    return undefined
  }
}

const fmtDate = (s) => (s ? new Date(s).toLocaleString() : '')
const short = (id) => (id ? String(id).slice(0, 8) : '')
const fmtBytes = (n) => (n > 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n > 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.ceil(n / 1e3)} kB`)
function fmtEta(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—'
  s = Math.max(0, Math.round(s))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}
function labelChips(p) {
  return Object.entries(p.labels ?? {}).map(([v, name]) =>
    h('span', { class: 'chip' }, h('span', { class: 'swatch', style: `background:${p.colors?.[v] ?? '#999'}` }), name),
  )
}

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
    await api.get('/api/v1/projects')
    renderKeyState('key accepted ✓', true)
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
  renderKeyState('key forgotten', false)
})

// ---------------------------------------------------------------- routing
function route() {
  const m = /^#\/projects\/([^/]+)(?:\/(\w+))?/.exec(location.hash)
  if (m) openProject(m[1], m[2] ?? 'cohort')
  else showProjects()
}
window.addEventListener('hashchange', route)

function setCrumbs(...parts) {
  $('#crumbs').replaceChildren(...parts.flatMap((p, i) => (i ? [' / ', p] : [p])))
}

// ---------------------------------------------------------------- projects
async function showProjects() {
  stopFollowing()
  state.project = null
  $('#projects-view').hidden = false
  $('#project-view').hidden = true
  setCrumbs(h('a', { href: '#/' }, 'Projects'))
  if (!api.getKey()) return
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
        h('td', {}, h('button', { onclick: () => (location.hash = `#/projects/${p.id}`) }, 'Open')),
      ),
    ),
  )
  $('#projects-empty').hidden = res.data.length > 0
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

// ---------------------------------------------------------------- one project
async function openProject(id, tab) {
  if (!api.getKey()) return showProjects()
  if (state.project?.id !== id) {
    if (state.opening?.id !== id) {
      // a different project: reset its views at once (uploads started meanwhile keep their rows)
      state.project = null
      state.studies = []
      state.study = null
      closeViewerStudy()
      stopFollowing()
      $('#studies-table tbody').replaceChildren()
      $('#upload-list').replaceChildren()
      state.opening = { id, promise: api.get(P(id)) }
    }
    const p = await guarded('Opening the project', () => state.opening.promise)
    if (!p || state.opening?.id !== id) return
    if (state.project?.id !== id) {
      state.project = p
      state.label = Math.min(...Object.keys(p.labels ?? { 1: '' }).map(Number))
      refreshStudies()
      refreshJobs(true)
      refreshModels()
    }
  }
  $('#projects-view').hidden = true
  $('#project-view').hidden = false
  setCrumbs(h('a', { href: '#/' }, 'Projects'), h('a', { href: `#/projects/${id}` }, state.project.name))
  showTab(tab)
}

function showTab(tab) {
  state.tab = tab
  $$('.tabs button').forEach((b) => b.classList.toggle('active', b.dataset.tab === tab))
  $$('.panel').forEach((p) => (p.hidden = p.dataset.panel !== tab))
  if (tab === 'viewer' && viewer?.nv) requestAnimationFrame(() => viewer.nv.resizeListener())
  if (tab === 'models') refreshModels()
  if (tab === 'training') refreshJobs(false)
}
$$('.tabs button').forEach((b) =>
  b.addEventListener('click', () => (location.hash = `#/projects/${state.project.id}/${b.dataset.tab}`)),
)

async function refreshProject() {
  const p = await guarded('Reloading the project', () => api.get(P(state.project.id)))
  if (p) state.project = p
}

// ---------------------------------------------------------------- upload
const dz = $('#dropzone')
dz.addEventListener('dragover', (e) => {
  e.preventDefault()
  dz.classList.add('over')
})
dz.addEventListener('dragleave', () => dz.classList.remove('over'))
dz.addEventListener('drop', (e) => {
  e.preventDefault()
  dz.classList.remove('over')
  uploadFiles([...e.dataTransfer.files])
})
$('#file-input').addEventListener('change', (e) => {
  uploadFiles([...e.target.files])
  e.target.value = ''
})

/** Group the files into uploads: each NIfTI / zip alone, loose .dcm files together. */
function uploadGroups(files) {
  const dcm = files.filter((f) => /\.dcm$/i.test(f.name))
  const rest = files.filter((f) => !/\.dcm$/i.test(f.name))
  const groups = rest.map((f) => ({ name: f.name, files: [f] }))
  if (dcm.length) groups.push({ name: `${dcm.length} DICOM file${dcm.length > 1 ? 's' : ''} (${dcm[0].name}…)`, files: dcm })
  return groups
}

async function uploadFiles(files) {
  // the project may still be loading: its id is in the address
  const pid = state.project?.id ?? /^#\/projects\/([^/]+)/.exec(location.hash)?.[1]
  if (!pid) return showMessage('Open a project before uploading studies.', 'error')
  const groups = uploadGroups(files)
  const queue = groups.map((g) => ({ ...g, row: uploadRow(g) }))
  const worker = async () => {
    while (queue.length) await uploadOne(pid, queue.shift())
  }
  await Promise.all([worker(), worker()]) // two uploads at a time
  if (state.project?.id === pid) refreshStudies()
}

function uploadRow(g) {
  const size = g.files.reduce((s, f) => s + f.size, 0)
  const bar = h('div', { class: 'progress' }, h('div'), h('span', {}, 'waiting'))
  const row = h('li', { class: 'upload' }, h('span', { class: 'name', title: g.name }, `${g.name} (${fmtBytes(size)})`), bar, h('span', { class: 'status muted' }, 'queued'))
  $('#upload-list').append(row)
  return row
}

async function uploadOne(pid, g) {
  const bar = $('.progress', g.row)
  const status = $('.status', g.row)
  const setPct = (f, text) => {
    $('div', bar).style.width = `${Math.round(f * 100)}%`
    $('span', bar).textContent = text ?? `${Math.round(f * 100)} %`
  }
  const form = new FormData()
  for (const f of g.files) form.append('file', f, f.name)
  status.textContent = 'uploading'
  setPct(0)
  const { promise } = api.uploadForm('POST', `${P(pid)}/studies`, form, (loaded, total) => {
    setPct(loaded / total)
    if (loaded >= total) status.textContent = 'checking…'
  })
  try {
    const study = await promise
    setPct(1, '100 %')
    bar.classList.add('done')
    status.textContent = '✓ added'
    g.row.dataset.studyId = study?.id ?? ''
    g.row.classList.add('ok')
  } catch (e) {
    bar.classList.add('failed')
    setPct(1, 'rejected')
    status.textContent = '✗ rejected'
    g.row.classList.add('rejected')
    g.row.append(h('div', { class: 'err' }, `${g.name}: ${e.message}`))
  }
}

// ---------------------------------------------------------------- cohort
async function refreshStudies() {
  if (!state.project) return
  const pid = state.project.id
  const res = await guarded('Loading the cohort', () => api.get(`${P(pid)}/studies`))
  if (!res || state.project?.id !== pid) return
  state.studies = res.data
  renderStudies()
}
$('#refresh-studies').addEventListener('click', () => refreshStudies())

function renderStudies() {
  const tbody = $('#studies-table tbody')
  tbody.replaceChildren(
    ...state.studies.map((s) => {
      const img = h('img', { class: 'thumb', alt: `preview of ${s.name}` })
      loadThumb(s, img)
      const conf = s.mask?.confidence
      const confBadge =
        conf === undefined || conf === null
          ? h('span', { class: 'muted' }, '—')
          : h('span', { class: `badge ${conf >= 0.8 ? 'ok' : conf >= 0.5 ? 'warn' : 'err'}`, title: 'model confidence (per-study quality signal)' }, conf.toFixed(2))
      return h('tr', { dataset: { studyId: s.id }, class: state.study?.id === s.id ? 'selected' : '' },
        h('td', {}, img),
        h('td', {}, h('strong', {}, s.name), h('div', { class: 'muted' }, `${s.modality ?? ''} · ${fmtBytes(s.size_bytes ?? 0)}`)),
        h('td', { class: 'muted' }, s.shape ? s.shape.join('×') : '', h('br'), s.spacing ? `${s.spacing.map((v) => (+v).toFixed(2)).join('×')} mm` : ''),
        h('td', {}, s.is_exemplar ? h('span', { class: 'badge ok' }, `exemplar · ${s.annotated_slices ?? '?'} slice${s.annotated_slices === 1 ? '' : 's'}`) : h('span', { class: 'muted' }, '—')),
        h('td', {}, s.mask ? h('span', { title: s.mask.model_id }, short(s.mask.model_id)) : h('span', { class: 'muted' }, 'not segmented')),
        h('td', {}, confBadge),
        h('td', { class: 'actions' },
          h('button', { class: 'open', onclick: () => openStudy(s, 'review') }, 'Open'), ' ',
          h('button', { class: 'annotate', onclick: () => openStudy(s, 'annotate') }, s.is_exemplar ? 'Edit annotation' : 'Annotate'), ' ',
          s.mask && h('button', { class: 'correct', title: 'Start from the model’s mask; saving makes this study another exemplar', onclick: () => openStudy(s, 'correct') }, 'Correct annotation'), ' ',
          s.mask && h('button', { class: 'dl-nifti ghost', onclick: () => downloadMask(s, 'nifti') }, 'NIfTI'), ' ',
          s.mask && h('button', { class: 'dl-seg ghost', onclick: () => downloadMask(s, 'dicom-seg') }, 'DICOM SEG'),
        ),
      )
    }),
  )
  $('#studies-empty').hidden = state.studies.length > 0
}

async function loadThumb(s, img) {
  const stamp = `${s.id}:${s.mask?.created_at ?? ''}:${s.mask?.model_id ?? ''}`
  if (state.thumbs.has(stamp)) {
    img.src = state.thumbs.get(stamp)
    return
  }
  try {
    const { blob } = await api.getBlob(`${P(s.project_id ?? state.project.id)}/studies/${s.id}/thumbnail.png?mask=1`)
    const url = URL.createObjectURL(blob)
    state.thumbs.set(stamp, url)
    img.src = url
  } catch (e) {
    img.alt = 'no preview'
    img.title = e.message
  }
}

async function downloadMask(s, format) {
  await guarded(`Downloading the mask of ${s.name}`, async () => {
    const { blob, filename } = await api.getBlob(`${P(state.project.id)}/studies/${s.id}/mask?format=${format}`)
    const base = s.name.replace(/\.(nii(\.gz)?|zip|dcm)$/i, '')
    api.saveBlob(blob, filename ?? (format === 'dicom-seg' ? `${base}_seg.dcm` : `${base}_mask.nii.gz`))
  })
}

// ---------------------------------------------------------------- viewer
let viewer = null
let viewerReady = null

function ensureViewer() {
  if (!viewerReady) {
    viewer = new Viewer($('#gl'))
    viewerReady = viewer.init().then(() => {
      viewer.onLocation = () => renderLocation()
      viewer.onIntensity = (wl) => {
        if (wl) $('#wl-readout').textContent = `W ${wl.width.toPrecision(4)} · L ${wl.level.toPrecision(4)}`
      }
      installPainting()
      return viewer
    })
  }
  return viewerReady
}

function closeViewerStudy() {
  state.study = null
  state.overlaySource = 'none'
  setEditing(false)
  $('#viewer-title').textContent = 'No study open'
  $('#viewer-empty').hidden = false
}

function confirmDiscard() {
  return !(state.editing && state.editor?.dirty) || confirm('The annotation has unsaved changes. Discard them?')
}

/** mode: 'review' (mask or annotation shown), 'annotate' (edit the annotation), 'correct' (edit, starting from the mask) */
async function openStudy(s, mode = 'review') {
  if (!confirmDiscard()) return
  location.hash = `#/projects/${state.project.id}/viewer`
  showTab('viewer')
  await ensureViewer()
  const busy = showMessage(`Loading ${s.name}…`, 'info', 0)
  try {
    const res = await api.request('GET', `${P(state.project.id)}/studies/${s.id}/volume`, { raw: true })
    const buf = await res.arrayBuffer()
    await viewer.loadStudy(buf, 'volume.nii.gz')
    state.study = s
    state.editor = new LabelEditor(viewer.dims())
    state.editor.onChange = () => {
      viewer.render()
      renderAnnotSummary()
    }
    viewer.setOverlay(state.editor.lab, state.project, +$('#opacity').value)
    $('#viewer-empty').hidden = true
    $('#viewer-title').textContent = s.name
    $('#paint-view').textContent = viewer.paintViewName()
    const [nx, ny, nz] = viewer.dims()
    if (s.shape && (s.shape[0] !== nx || s.shape[1] !== ny || s.shape[2] !== nz)) {
      showMessage(`The volume served (${nx}×${ny}×${nz}) differs from the study's shape (${s.shape.join('×')}).`, 'error')
    }
    // CT in Hounsfield units holds fat and air below -100; MR never goes that low. The modality the
    // API reports for a NIfTI upload is a guess, so the intensities decide too.
    applyPreset(s.modality === 'CT' || viewer.looksLikeHU() ? 'ct' : 'mr')
    setView(viewer.paintViewName())
    viewer.goToSlice(Math.floor(nz / 2))
    renderLegend()
    setEditing(false)
    if (mode === 'correct') {
      if (await loadMaskInto(s)) startEditing('mask')
    } else if (mode === 'annotate') {
      if (s.is_exemplar) await loadAnnotationInto(s)
      startEditing(s.is_exemplar ? 'annotation' : 'empty')
    } else if (s.mask) {
      await loadMaskInto(s)
    } else if (s.is_exemplar) {
      await loadAnnotationInto(s)
    } else setOverlaySource('none')
    renderStudies()
    $('#canvas-wrap').focus()
  } catch (e) {
    showError(e, `Opening ${s.name}`)
  } finally {
    busy.remove()
  }
}

async function fetchLabelVoxels(path, name) {
  const res = await api.request('GET', path, { raw: true })
  return viewer.readLabelFile(await res.arrayBuffer(), name)
}

async function loadMaskInto(s) {
  return guarded('Loading the mask', async () => {
    const values = await fetchLabelVoxels(`${P(state.project.id)}/studies/${s.id}/mask`, 'mask.nii.gz')
    state.editor.loadLabels(values)
    state.editor.dirty = false
    setOverlaySource('mask', `mask by model ${short(s.mask?.model_id)}${s.mask?.confidence != null ? `, confidence ${s.mask.confidence.toFixed(2)}` : ''}`)
    return true
  })
}

async function loadAnnotationInto(s) {
  return guarded('Loading the annotation', async () => {
    const values = await fetchLabelVoxels(`${P(state.project.id)}/studies/${s.id}/annotation`, 'annotation.nii.gz')
    state.editor.loadLabels(values)
    state.editor.dirty = false
    setOverlaySource('annotation', `saved annotation (${state.editor.touchedSlices().length} annotated slices)`)
    return true
  })
}

function setOverlaySource(src, text) {
  state.overlaySource = src
  if (src === 'none') state.editor?.clearAll()
  $('#overlay-source').textContent = text ?? (src === 'none' ? 'none (no mask or annotation yet)' : src)
  $('#annot-correct').hidden = !state.study?.mask
}

function renderLegend() {
  const p = state.project
  $('#legend').replaceChildren(
    ...Object.entries(p.labels ?? {}).map(([v, name], i) =>
      h('li', { dataset: { label: v }, class: +v === state.label ? 'selected' : '', onclick: () => selectLabel(+v) },
        h('span', { class: 'swatch', style: `background:${p.colors?.[v] ?? '#999'}` }), `${v} · ${name}`, h('span', { class: 'key' }, i < 9 ? `key ${i + 1}` : '')),
    ),
  )
}

function selectLabel(v) {
  state.label = v
  renderLegend()
  if (state.tool === 'eraser' || state.tool === 'navigate') setTool('brush')
}

function setView(name) {
  viewer.setView(name)
  $$('#view-buttons button').forEach((b) => b.classList.toggle('active', b.dataset.view === name))
}
$$('#view-buttons button').forEach((b) => b.addEventListener('click', () => viewer?.back && setView(b.dataset.view)))

function applyPreset(which) {
  if (!viewer?.back) return
  if (which === 'ct') viewer.setWindow(400, 40)
  else viewer.autoWindow()
  $('#wl-ct').classList.toggle('active', which === 'ct')
  $('#wl-mr').classList.toggle('active', which === 'mr')
}
$('#wl-ct').addEventListener('click', () => applyPreset('ct'))
$('#wl-mr').addEventListener('click', () => applyPreset('mr'))
$('#lr-toggle').addEventListener('click', (e) => {
  const radio = e.target.textContent !== 'Radiological'
  viewer?.setRadiological(radio)
  e.target.textContent = radio ? 'Radiological' : 'Neurological'
  e.target.title = radio ? "Radiological: the patient's right on the screen's left" : "Neurological: the patient's right on the screen's right"
})
$('#opacity').addEventListener('input', (e) => viewer?.setOpacity(+e.target.value))

function renderLocation() {
  const loc = viewer?.location()
  if (!loc) return
  const [i, j, k] = loc.native
  const nz = viewer.dims()[2]
  $('#loc-readout').textContent = `slice ${k + 1} / ${nz} · voxel (${i}, ${j}, ${k}) · ${loc.mm.map((v) => v.toFixed(1)).join(', ')} mm`
  renderSliceState()
}

function renderSliceState() {
  const loc = viewer?.location()
  if (!loc || !state.editing) {
    $('#slice-state').textContent = ''
    return
  }
  const k = loc.native[2]
  $('#slice-state').textContent = state.editor.touched[k]
    ? `slice ${k + 1}: annotated (unpainted = background)`
    : `slice ${k + 1}: not annotated (saved as 255)`
}

// ---- annotation editing
function setEditing(on) {
  state.editing = on
  $('#annotate-tools').hidden = !on
  $('#annotate-start').hidden = on
  $('#canvas-wrap').classList.toggle('painting', on && state.tool !== 'navigate')
  renderAnnotSummary()
  renderSliceState()
}

function startEditing(from) {
  if (!state.study) return
  const text = { empty: 'new annotation', annotation: 'editing the saved annotation', mask: 'correcting the model’s mask (saving makes this study an exemplar)', file: 'editing a loaded label file' }[from]
  setOverlaySource('annotation', text)
  if (from === 'empty') state.editor.clearAll()
  state.editor.dirty = from === 'mask' || from === 'file'
  setEditing(true)
  setTool('brush')
  setView(viewer.paintViewName())
}

$('#annot-edit').addEventListener('click', async () => {
  if (!state.study) return showMessage('Open a study first.', 'error')
  if (state.overlaySource === 'mask') {
    // painting the exemplar starts from the saved annotation (if any), not from the mask
    if (state.study.is_exemplar) await loadAnnotationInto(state.study)
    else state.editor.clearAll()
  }
  startEditing(state.overlaySource === 'annotation' ? 'annotation' : 'empty')
})
$('#annot-correct').addEventListener('click', async () => {
  if (state.study && (await loadMaskInto(state.study))) startEditing('mask')
})
$('#annot-file').addEventListener('change', async (e) => {
  const f = e.target.files[0]
  e.target.value = ''
  if (!f || !state.study) return
  await guarded(`Loading ${f.name}`, async () => {
    const values = await viewer.readLabelFile(await f.arrayBuffer(), f.name)
    const known = new Set(Object.keys(state.project.labels).map(Number).concat([0, 255]))
    const unknown = [...new Set(values)].filter((v) => !known.has(v))
    if (unknown.length) throw new Error(`the file has label values ${unknown.join(', ')} that the project does not define`)
    state.editor.loadLabels(values)
    startEditing('file')
    showMessage(`${f.name} loaded: ${state.editor.touchedSlices().length} annotated slices.`, 'ok')
  })
})
$('#annot-cancel').addEventListener('click', () => {
  if (!confirmDiscard()) return
  setEditing(false)
  if (state.study) openStudy(state.study, 'review')
})

function setTool(t) {
  state.tool = t
  $$('#tool-buttons button').forEach((b) => b.classList.toggle('active', b.dataset.tool === t))
  $('#canvas-wrap').classList.toggle('painting', state.editing && t !== 'navigate')
}
$$('#tool-buttons button').forEach((b) => b.addEventListener('click', () => setTool(b.dataset.tool)))

function setBrush(r) {
  state.brush = Math.max(0, Math.min(20, r))
  $('#brush-size').value = state.brush
  $('#brush-size-val').textContent = `${2 * state.brush + 1} voxel${state.brush ? 's' : ''} wide`
}
$('#brush-size').addEventListener('input', (e) => setBrush(+e.target.value))
setBrush(2)

$('#undo').addEventListener('click', () => state.editor?.undo())
$('#redo').addEventListener('click', () => state.editor?.redo())
$('#slice-bg').addEventListener('click', () => {
  const k = viewer?.location()?.native[2]
  if (k !== undefined) state.editor.touchSlice(k)
  renderSliceState()
})
$('#slice-clear').addEventListener('click', () => {
  const k = viewer?.location()?.native[2]
  if (k !== undefined) state.editor.untouchSlice(k)
  renderSliceState()
})

function renderAnnotSummary() {
  const ed = state.editor
  if (!ed || !state.editing) return
  const t = ed.touchedSlices()
  const list = t.length > 12 ? `${t.slice(0, 12).map((k) => k + 1).join(', ')}, …` : t.map((k) => k + 1).join(', ')
  $('#annot-summary').textContent = t.length
    ? `${t.length} annotated slice${t.length > 1 ? 's' : ''} (${list})${ed.dirty ? ' · unsaved changes' : ' · saved'}`
    : 'Nothing painted yet.'
  $('#undo').disabled = !ed.undoStack.length
  $('#redo').disabled = !ed.redoStack.length
  renderSliceState()
}

$('#annot-save').addEventListener('click', () => saveAnnotation())

async function saveAnnotation() {
  const ed = state.editor
  const s = state.study
  if (!ed || !s) return
  if (!ed.touchedSlices().length) return showMessage('Nothing to save: paint at least one slice (or mark one as background).', 'error')
  const btn = $('#annot-save')
  btn.disabled = true
  const bar = $('#save-progress')
  bar.hidden = false
  try {
    const nii = niftiLabelMap(ed.toSaved(), viewer.back.hdr)
    const { bytes, gz } = await gzip(nii)
    const form = new FormData()
    form.append('file', new Blob([bytes], { type: 'application/octet-stream' }), gz ? 'annotation.nii.gz' : 'annotation.nii')
    const { promise } = api.uploadForm('PUT', `${P(state.project.id)}/studies/${s.id}/annotation`, form, (l, t) => ($('div', bar).style.width = `${(100 * l) / t}%`))
    const updated = await promise
    ed.dirty = false
    if (updated?.id) {
      state.study = updated
      state.studies = state.studies.map((x) => (x.id === updated.id ? updated : x))
    }
    renderAnnotSummary()
    renderStudies()
    showMessage(`Annotation saved: ${s.name} is an exemplar (${ed.touchedSlices().length} annotated slices).`, 'ok')
    document.body.dataset.lastSave = String(Date.now())
  } catch (e) {
    showError(e, 'Saving the annotation')
  } finally {
    btn.disabled = false
    bar.hidden = true
  }
}

// ---- mouse painting: captured before NiiVue sees the event, only for the left button
function installPainting() {
  const wrap = $('#canvas-wrap')
  let stroke = null // {k, last: [i, j], value}
  const paintValue = () => {
    if (state.tool === 'eraser') return 0
    if (!(String(state.label) in (state.project.labels ?? {}))) selectLabel(Math.min(...Object.keys(state.project.labels).map(Number)))
    return state.label
  }
  const active = (e) => state.editing && state.tool !== 'navigate' && e.button === 0 && !e.shiftKey && !e.altKey

  wrap.addEventListener(
    'mousedown',
    (e) => {
      if (!active(e)) return
      e.stopPropagation()
      e.preventDefault()
      wrap.focus()
      const hit = viewer.pick(viewer.eventCanvasXY(e))
      if (!hit) return
      if (hit.axCorSag !== viewer.paintView()) {
        showMessage(`Paint in the ${viewer.paintViewName()} view: that is the study's slice plane (one slice = one value of the third voxel axis).`, 'error', 5000)
        return
      }
      const [i, j, k] = hit.native
      const ed = state.editor
      ed.begin()
      if (state.tool === 'fill') {
        const n = ed.fill(i, j, k, paintValue())
        ed.end()
        if (n > 0.5 * ed.sliceSize) showMessage(`Filled ${n} voxels: more than half the slice. Was the outline closed? Undo with Ctrl+Z.`, 'info')
        return
      }
      ed.stamp(i, j, k, state.brush, paintValue())
      viewer.render()
      stroke = { k, last: [i, j] }
    },
    true,
  )
  const cursor = $('#brush-cursor')
  wrap.addEventListener('mousemove', (e) => {
    const showIt = state.editing && (state.tool === 'brush' || state.tool === 'eraser')
    const xy = showIt ? viewer.eventCanvasXY(e) : null
    const hit = xy && viewer.pick(xy)
    if (!hit || hit.axCorSag !== viewer.paintView()) {
      cursor.hidden = true
      return
    }
    const ppm = viewer.cssPxPerMm(xy)
    if (!ppm) return
    const d = Math.max(4, (2 * state.brush + 1) * viewer.inPlaneSpacing() * ppm)
    const rect = wrap.getBoundingClientRect()
    Object.assign(cursor.style, { left: `${e.clientX - rect.left}px`, top: `${e.clientY - rect.top}px`, width: `${d}px`, height: `${d}px` })
    cursor.hidden = false
  })
  wrap.addEventListener('mouseleave', () => (cursor.hidden = true))
  wrap.addEventListener(
    'mousemove',
    (e) => {
      if (!stroke) return
      e.stopPropagation()
      const hit = viewer.pick(viewer.eventCanvasXY(e))
      if (!hit || hit.axCorSag !== viewer.paintView() || hit.native[2] !== stroke.k) return
      const [i, j] = hit.native
      state.editor.line(stroke.last[0], stroke.last[1], i, j, stroke.k, state.brush, paintValue())
      stroke.last = [i, j]
      viewer.render()
    },
    true,
  )
  const finish = (e) => {
    if (!stroke) return
    e.stopPropagation()
    stroke = null
    state.editor.end()
  }
  wrap.addEventListener('mouseup', finish, true)
  window.addEventListener('mouseup', finish)

  wrap.addEventListener('keydown', (e) => {
    if (!viewer.back) return
    const key = e.key
    const ctrl = e.ctrlKey || e.metaKey
    let handled = true
    if (key === 'ArrowUp' || key === 'PageUp') viewer.step(+1)
    else if (key === 'ArrowDown' || key === 'PageDown') viewer.step(-1)
    else if (ctrl && (key === 'z' || key === 'Z')) (e.shiftKey ? state.editor.redo() : state.editor.undo())
    else if (ctrl && (key === 'y' || key === 'Y')) state.editor.redo()
    else if (!ctrl && state.editing && /^[bBeEfFnN]$/.test(key)) setTool({ b: 'brush', e: 'eraser', f: 'fill', n: 'navigate' }[key.toLowerCase()])
    else if (key === '[') setBrush(state.brush - 1)
    else if (key === ']') setBrush(state.brush + 1)
    else if (/^[1-9]$/.test(key)) {
      const v = Object.keys(state.project.labels).map(Number).sort((a, b) => a - b)[+key - 1]
      if (v !== undefined) selectLabel(v)
    } else handled = false
    if (handled) {
      e.preventDefault()
      e.stopPropagation()
    }
  })
  wrap.addEventListener('mouseenter', () => wrap.focus({ preventScroll: true }))
}

window.addEventListener('beforeunload', (e) => {
  if (state.editing && state.editor?.dirty) e.preventDefault()
})

// ---------------------------------------------------------------- training
const chart = new LossChart($('#loss-chart'))

async function refreshJobs(attach) {
  if (!state.project) return
  const pid = state.project.id
  const res = await guarded('Loading jobs', () => api.get(`${P(pid)}/jobs`))
  if (!res || state.project?.id !== pid) return
  state.jobs = [...res.data].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)))
  renderJobs()
  if (attach && !state.job) {
    const live = state.jobs.find((j) => j.state === 'queued' || j.state === 'running')
    if (live) followJob(live)
  }
}

function stateBadge(s) {
  const cls = { succeeded: 'ok', running: 'warn', queued: '', failed: 'err', cancelled: 'err' }[s] ?? ''
  return h('span', { class: `badge ${cls}` }, s)
}

function renderJobs() {
  $('#jobs-table tbody').replaceChildren(
    ...state.jobs.map((j) =>
      h('tr', { dataset: { jobId: j.id } },
        h('td', { title: j.id }, short(j.id)),
        h('td', {}, j.kind, j.preset ? ` (${j.preset})` : ''),
        h('td', {}, stateBadge(j.state), j.error ? h('div', { class: 'muted' }, j.error) : ''),
        h('td', {}, `${Math.round((j.progress ?? 0) * 100)} %`),
        h('td', {}, fmtDate(j.started_at)),
        h('td', {}, fmtDate(j.finished_at)),
        h('td', {}, h('button', { class: 'ghost', onclick: () => followJob(j) }, 'Show')),
      ),
    ),
  )
  const ex = state.studies.filter((s) => s.is_exemplar).length
  $('#train-hint').textContent = ex
    ? `${ex} exemplar${ex > 1 ? 's' : ''} annotated; training uses them and the rest of the cohort (${state.studies.length} studies).`
    : 'No exemplar yet: open a study in the viewer, paint it and save the annotation first.'
}

$('#train-start').addEventListener('click', async () => {
  const preset = $('#preset').value
  const job = await guarded('Starting the training', () =>
    api.post(`${P(state.project.id)}/jobs`, { kind: 'train', preset }, { headers: { 'Idempotency-Key': crypto.randomUUID() } }),
  )
  if (job) {
    showMessage(`Training (${preset}) started.`, 'ok')
    followJob(job)
    refreshJobs(false)
  }
})

$('#infer-start').addEventListener('click', async () => {
  const ids = state.studies.map((s) => s.id)
  if (!ids.length) return showMessage('Upload studies first.', 'error')
  const job = await guarded('Starting the segmentation', () =>
    api.post(`${P(state.project.id)}/jobs`, { kind: 'infer', study_ids: ids }, { headers: { 'Idempotency-Key': crypto.randomUUID() } }),
  )
  if (job) {
    followJob(job)
    refreshJobs(false)
  }
})

$('#job-cancel').addEventListener('click', async () => {
  if (!state.job) return
  const j = await guarded('Cancelling the job', () => api.post(`/api/v1/jobs/${state.job.id}/cancel`))
  if (j) renderJob(j)
})

function stopFollowing() {
  state.jobAbort?.abort()
  state.jobAbort = null
  state.job = null
}

function renderJob(j) {
  state.job = { ...state.job, ...j }
  const job = state.job
  const row = state.jobs.findIndex((x) => x.id === job.id)
  if (row >= 0) {
    const before = state.jobs[row]
    state.jobs[row] = { ...before, state: job.state, progress: job.progress ?? before.progress }
    if (before.state !== job.state || Math.round(100 * (before.progress ?? 0)) !== Math.round(100 * (job.progress ?? 0))) renderJobs()
  }
  $('#job-card').hidden = false
  $('#job-card').dataset.state = job.state ?? ''
  $('#job-title').textContent = `${job.kind === 'infer' ? 'Segmentation' : 'Training'} ${short(job.id)}${job.preset ? ` · ${job.preset}` : ''}`
  $('#job-state').textContent = job.state ?? ''
  $('#job-stage').textContent = job.stage ?? '—'
  $('#job-eta').textContent = job.state === 'running' || job.state === 'queued' ? fmtEta(job.eta_s) : '—'
  const pct = Math.round((job.progress ?? 0) * 100)
  const bar = $('#job-progress')
  bar.dataset.progress = String(pct)
  $('div', bar).style.width = `${pct}%`
  $('span', bar).textContent = `${pct} %`
  bar.classList.toggle('done', job.state === 'succeeded')
  bar.classList.toggle('failed', job.state === 'failed' || job.state === 'cancelled')
  $('#job-message').textContent = job.error ? `Error: ${job.error}` : (job.message ?? '')
  $('#job-cancel').disabled = !(job.state === 'queued' || job.state === 'running')
}

async function followJob(j) {
  stopFollowing()
  const ctl = new AbortController()
  state.jobAbort = ctl
  state.job = j
  chart.clear()
  renderJob(j)
  const seen = new Set()
  const addPoint = (e) => {
    if (e.seq !== undefined && seen.has(e.seq)) return
    if (e.seq !== undefined) seen.add(e.seq)
    chart.add(e.seq ?? chart.points.length, e.metrics)
  }
  // history first (so a reopened page shows the whole curve), then the live stream
  const hist = await api.get(`/api/v1/jobs/${j.id}/metrics`).catch(() => null)
  if (ctl.signal.aborted) return
  for (const e of hist?.data ?? []) addPoint(e)
  const ended = () => ['succeeded', 'failed', 'cancelled'].includes(state.job?.state)
  try {
    if (!ended()) {
      await api.streamEvents(`/api/v1/jobs/${j.id}/events`, (e) => {
        if (ctl.signal.aborted) return
        addPoint(e)
        const upd = { progress: e.progress, stage: e.stage, eta_s: e.eta_s, message: e.message }
        if (e.state) upd.state = e.state
        else if (state.job.state === 'queued') upd.state = 'running'
        for (const k of Object.keys(upd)) if (upd[k] === undefined || upd[k] === null) delete upd[k]
        renderJob(upd)
      }, ctl.signal)
    }
  } catch (e) {
    if (e.name === 'AbortError') return
    console.warn('event stream failed, polling instead', e)
  }
  // the stream ended (or failed): poll the job row, the truth about the job, until it ends
  while (!ctl.signal.aborted) {
    const fresh = await api.get(`/api/v1/jobs/${j.id}`).catch(() => null)
    if (ctl.signal.aborted) return
    if (fresh) renderJob(fresh)
    if (fresh && ['succeeded', 'failed', 'cancelled'].includes(fresh.state)) break
    await new Promise((r) => setTimeout(r, 2000))
  }
  if (ctl.signal.aborted) return
  if (state.job.state === 'succeeded') showMessage(`${state.job.kind === 'infer' ? 'Segmentation' : 'Training'} finished.`, 'ok')
  else if (state.job.state === 'failed') showMessage(`Job failed: ${state.job.error ?? 'see the job list'}`, 'error')
  refreshJobs(false)
  refreshStudies()
  refreshModels()
  refreshProject()
}

// ---------------------------------------------------------------- models
async function refreshModels() {
  if (!state.project) return
  const pid = state.project.id
  const res = await guarded('Loading models', () => api.get(`${P(pid)}/models`))
  if (!res || state.project?.id !== pid) return
  state.models = [...res.data].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)))
  renderModels()
}

const METRIC_ORDER = [/dice/i, /loss/i, /confidence/i, /seconds/i]
function metricText(m) {
  if (!m || typeof m !== 'object') return ''
  const rank = (k) => {
    const i = METRIC_ORDER.findIndex((re) => re.test(k))
    return i < 0 ? METRIC_ORDER.length : i
  }
  return Object.entries(m)
    .filter(([, v]) => typeof v === 'number')
    .sort(([a], [b]) => rank(a) - rank(b) || b.localeCompare(a)) // later stages first
    .slice(0, 4)
    .map(([k, v]) => `${k} ${Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3)}`)
    .join(' · ')
}

function renderModels() {
  const activeId = state.project?.active_model_id
  $('#models-table tbody').replaceChildren(
    ...state.models.map((m) => {
      const active = m.is_active || m.id === activeId
      return h('tr', { dataset: { modelId: m.id } },
        h('td', { title: m.id }, short(m.id)),
        h('td', {}, fmtDate(m.created_at)),
        h('td', {}, state.jobs.find((j) => j.id === m.job_id)?.preset ?? m.config?.preset ?? m.config?.config?.size ?? ''),
        h('td', { class: 'muted' }, metricText(m.metrics)),
        h('td', {}, (m.exemplar_study_ids ?? []).length),
        h('td', {}, active ? h('span', { class: 'badge ok' }, 'active') : ''),
        h('td', {},
          active ? '' : h('button', { class: 'make-active', onclick: () => makeActive(m) }, 'Make active'), ' ',
          h('button', { class: 'ghost', onclick: () => downloadModel(m) }, 'Download'),
        ),
      )
    }),
  )
  $('#models-empty').hidden = state.models.length > 0
}

async function makeActive(m) {
  const p = await guarded('Changing the active model', () => api.patch(P(state.project.id), { active_model_id: m.id }))
  if (!p) return
  state.project = p
  showMessage(`Model ${short(m.id)} is now the project's active model.`, 'ok')
  refreshModels()
}

async function downloadModel(m) {
  await guarded('Downloading the model', async () => {
    const { blob, filename } = await api.getBlob(`/api/v1/models/${m.id}/artifact`)
    api.saveBlob(blob, filename ?? `elsnet_model_${short(m.id)}.tar.gz`)
  })
}

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
}

// ---------------------------------------------------------------- start
checkKey().then(() => route())
