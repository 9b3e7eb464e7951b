// Viewer tab: NiiVue display of a study, its mask or annotation, and painting the exemplar.

import * as api from './api.js'
import { Viewer } from './viewer.js'
import { LabelEditor } from './annotator.js'
import { niftiLabelMap, gzip } from './nifti.js'
import { $, $$, h, P, state, showMessage, showError, guarded, short } from './ui.js'
import { showTab } from './project.js'
import { renderStudies, refreshStudies } from './cohort.js'
import { completionFor, nextSliceFor, nextSliceText } from './guidance.js'

// ---------------------------------------------------------------- viewer
export let viewer = null
export let viewerReady = null

export function ensureViewer() {
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

export function closeViewerStudy() {
  state.study = null
  state.overlaySource = 'none'
  setEditing(false)
  $('#viewer-title').textContent = 'No study open'
  $('#viewer-empty').hidden = false
  renderNextSlice()
  renderCompletion()
}

export function confirmDiscard() {
  return !(state.editing && state.editor?.dirty) || confirm('The annotation has unsaved changes. Discard them?')
}

/** mode: 'review' (mask or annotation shown), 'annotate' (edit the annotation), 'correct' (edit, starting from the mask) */
export async function openStudy(s, mode = 'review') {
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
    renderNextSlice()
    renderCompletion()
    $('#canvas-wrap').focus()
  } catch (e) {
    showError(e, `Opening ${s.name}`)
  } finally {
    busy.remove()
  }
}

export async function fetchLabelVoxels(path, name) {
  const res = await api.request('GET', path, { raw: true })
  return viewer.readLabelFile(await res.arrayBuffer(), name)
}

export async function loadMaskInto(s) {
  return guarded('Loading the mask', async () => {
    const values = await fetchLabelVoxels(`${P(state.project.id)}/studies/${s.id}/mask`, 'mask.nii.gz')
    state.editor.loadLabels(values)
    state.editor.dirty = false
    setOverlaySource('mask', `mask by model ${short(s.mask?.model_id)}${s.mask?.confidence != null ? `, confidence ${s.mask.confidence.toFixed(2)}` : ''}`)
    return true
  })
}

export async function loadAnnotationInto(s) {
  return guarded('Loading the annotation', async () => {
    const values = await fetchLabelVoxels(`${P(state.project.id)}/studies/${s.id}/annotation`, 'annotation.nii.gz')
    state.editor.loadLabels(values)
    state.editor.dirty = false
    setOverlaySource('annotation', `saved annotation (${state.editor.touchedSlices().length} annotated slices)`)
    return true
  })
}

export function setOverlaySource(src, text) {
  state.overlaySource = src
  if (src === 'none') state.editor?.clearAll()
  $('#overlay-source').textContent = text ?? (src === 'none' ? 'none (no mask or annotation yet)' : src)
  $('#annot-correct').hidden = !state.study?.mask
  $('#annot-delete').hidden = !state.study?.is_exemplar
}

$('#annot-delete').addEventListener('click', async () => {
  const s = state.study
  if (!s?.is_exemplar || !confirm(`Remove the annotation of ${s.name}? It will no longer be an exemplar.`)) return
  const ok = await guarded('Removing the annotation', () => api.del(`${P(state.project.id)}/studies/${s.id}/annotation`))
  if (ok === undefined) return
  showMessage(`${s.name} is no longer an exemplar.`, 'ok')
  await refreshStudies()
  const fresh = state.studies.find((x) => x.id === s.id)
  if (fresh) openStudy(fresh, 'review')
})

export function renderLegend() {
  const p = state.project
  $('#legend').replaceChildren(
    ...Object.entries(p.labels ?? {}).map(([v, name], i) =>
      h('li', { dataset: { label: v }, class: +v === state.label ? 'selected' : '', onclick: () => selectLabel(+v) },
        h('span', { class: 'swatch', style: `background:${p.colors?.[v] ?? '#999'}` }), `${v} · ${name}`, h('span', { class: 'key' }, i < 9 ? `key ${i + 1}` : '')),
    ),
  )
}

export function selectLabel(v) {
  state.label = v
  renderLegend()
  if (state.tool === 'eraser' || state.tool === 'navigate') setTool('brush')
}

export function setView(name) {
  viewer.setView(name)
  $$('#view-buttons button').forEach((b) => b.classList.toggle('active', b.dataset.view === name))
}
$$('#view-buttons button').forEach((b) => b.addEventListener('click', () => viewer?.back && setView(b.dataset.view)))

export function applyPreset(which) {
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

export function renderLocation() {
  const loc = viewer?.location()
  if (!loc) return
  const [i, j, k] = loc.native
  const nz = viewer.dims()[2]
  $('#loc-readout').textContent = `slice ${k + 1} / ${nz} · voxel (${i}, ${j}, ${k}) · ${loc.mm.map((v) => v.toFixed(1)).join(', ')} mm`
  renderSliceState()
}

export function renderSliceState() {
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
export function setEditing(on) {
  state.editing = on
  $('#annotate-tools').hidden = !on
  $('#annotate-start').hidden = on
  $('#canvas-wrap').classList.toggle('painting', on && state.tool !== 'navigate')
  renderAnnotSummary()
  renderSliceState()
}

export function startEditing(from) {
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
  if (state.overlaySource === 'mask' || state.overlaySource === 'completion') {
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

export function setTool(t) {
  state.tool = t
  $$('#tool-buttons button').forEach((b) => b.classList.toggle('active', b.dataset.tool === t))
  $('#canvas-wrap').classList.toggle('painting', state.editing && t !== 'navigate')
}
$$('#tool-buttons button').forEach((b) => b.addEventListener('click', () => setTool(b.dataset.tool)))

export function setBrush(r) {
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

// ---- which slice to paint next (suggested by the newest model trained on this exemplar)
export function renderNextSlice() {
  const box = $('#next-slice')
  const s = state.study ? nextSliceFor(state.models, state.study.id) : null
  box.hidden = !s
  if (!s) return
  // only a shown annotation says which slices are painted (a mask covers every slice)
  const painted = state.overlaySource === 'annotation' && Boolean(state.editor?.touched?.[s.slice])
  $('#next-slice-text').textContent = nextSliceText(s, painted)
  box.dataset.slice = String(s.slice)
  box.dataset.painted = String(painted)
  $('#next-slice-go').textContent = `Go to slice ${s.slice + 1}`
}
// ---- what the last training made of the painted slices (random-walk completion, read-only)
export function renderCompletion() {
  const c = state.study ? completionFor(state.models, state.study.id) : null
  const btn = $('#show-completion')
  btn.hidden = !c || state.editing
  btn.dataset.model = c?.model_id ?? ''
}
$('#show-completion').addEventListener('click', async () => {
  const s = state.study
  const modelId = $('#show-completion').dataset.model
  if (!s || !modelId) return
  await guarded('Loading the completed annotation', async () => {
    const values = await fetchLabelVoxels(`${P(state.project.id)}/studies/${s.id}/completion?model=${encodeURIComponent(modelId)}`, 'completion.nii.gz')
    state.editor.loadLabels(values)
    state.editor.dirty = false
    const shown = values.reduce((n, v) => n + (v > 0 && v < 255 ? 1 : 0), 0)
    setOverlaySource('completion', `what training ${short(modelId)} learnt from: the painted slices carried through the study (${shown} organ voxels; unsure voxels not shown)`)
  })
})

$('#next-slice-go').addEventListener('click', () => {
  const k = Number($('#next-slice').dataset.slice)
  if (!viewer?.back || !Number.isInteger(k)) return
  viewer.goToSlice(k)
  $('#canvas-wrap').focus()
})
document.addEventListener('models-changed', () => { renderNextSlice(); renderCompletion() })

export function renderAnnotSummary() {
  renderNextSlice()
  renderCompletion()
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

export async function saveAnnotation() {
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
export function installPainting() {
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
