// Unit tests for how the page offers the cohort's masks in one zip (node --test; no browser needed).
import test from 'node:test'
import assert from 'node:assert/strict'
import {
  DIRECT_MAX_STUDIES, EXPORT_RULE, exportButtonText, exportMode, fmtSize, isDownloadable, isLiveExport,
  readyExports, readyLinkText, withFollowed,
} from '../src/cohortexport.js'

const NOW = Date.parse('2026-12-08T12:00:00Z')
const done = (id, format, created, extra = {}) => ({
  id, kind: 'export', state: 'succeeded', format, created_at: created, progress: 1,
  metrics: { format, n_studies: 40, n_masks: 38, bytes: 123_456_789, sha256: 'ab12', file_name: 'abdomen_masks.zip',
    expires_at: '2026-12-09T10:00:00+00:00', ...extra },
})

test('small NIfTI cohorts download at once; larger ones and DICOM SEG are prepared by a job', () => {
  assert.equal(DIRECT_MAX_STUDIES, 20)
  assert.equal(exportMode('nifti', 0), 'direct')
  assert.equal(exportMode('nifti', 20), 'direct')
  assert.equal(exportMode('nifti', 21), 'job')
  assert.equal(exportMode('dicom-seg', 1), 'job')
  assert.equal(exportMode('nifti', undefined), 'direct')
  assert.match(EXPORT_RULE, /up to 20 studies download at once as NIfTI; a larger cohort, and DICOM SEG/)
})

test('the buttons say what a click does, and a live export’s progress', () => {
  assert.equal(exportButtonText('nifti', 3, null), 'Download all masks')
  assert.equal(exportButtonText('nifti', 300, null), 'Prepare all masks (NIfTI zip)')
  assert.equal(exportButtonText('dicom-seg', 3, null), 'Prepare DICOM SEG zip')
  const live = { kind: 'export', state: 'running', format: 'dicom-seg', progress: 0.456 }
  assert.equal(exportButtonText('dicom-seg', 300, live), 'Preparing DICOM SEG zip… 46 %')
  assert.equal(exportButtonText('nifti', 3, { ...live, state: 'succeeded' }), 'Download all masks')
  assert.equal(exportButtonText('nifti', 3, { kind: 'train', state: 'running', progress: 0.5 }), 'Download all masks')
})

test('a live export counts for its own format only', () => {
  const q = { kind: 'export', state: 'queued', format: 'nifti' }
  assert.equal(isLiveExport(q), true)
  assert.equal(isLiveExport(q, 'nifti'), true)
  assert.equal(isLiveExport(q, 'dicom-seg'), false)
  assert.equal(isLiveExport({ ...q, state: 'failed' }), false)
  assert.equal(isLiveExport({ kind: 'rank', state: 'running' }), false)
})

test('a prepared zip is offered until it expires, and never after the service deleted it', () => {
  const j = done('j1', 'nifti', '2026-12-08T10:00:00Z')
  assert.equal(isDownloadable(j, NOW), true)
  assert.equal(isDownloadable(j, Date.parse('2026-12-09T10:00:01Z')), false)
  assert.equal(isDownloadable(done('j2', 'nifti', 'x', { expired_at: '2026-12-08T11:00:00+00:00' }), NOW), false)
  assert.equal(isDownloadable({ ...j, state: 'running' }, NOW), false)
  assert.equal(isDownloadable({ ...j, kind: 'train' }, NOW), false)
})

test('the newest ready zip of each format, newest first', () => {
  const jobs = [
    done('old-nifti', 'nifti', '2026-12-08T09:00:00Z'),
    done('seg', 'dicom-seg', '2026-12-08T10:00:00Z'),
    done('new-nifti', 'nifti', '2026-12-08T11:00:00Z'),
    done('gone', 'nifti', '2026-12-08T11:30:00Z', { expired_at: '2026-12-08T11:45:00+00:00' }),
    { id: 'run', kind: 'export', state: 'running', format: 'nifti', created_at: '2026-12-08T11:50:00Z', metrics: {} },
  ]
  assert.deepEqual(readyExports(jobs, NOW).map((j) => j.id), ['new-nifti', 'seg'])
  assert.deepEqual(readyExports([], NOW), [])
})

test('the followed job (live events) replaces its row in the list', () => {
  const jobs = [{ id: 'a', kind: 'export', state: 'running', progress: 0.2 }, { id: 'b', kind: 'train', state: 'succeeded' }]
  assert.deepEqual(withFollowed(jobs, { id: 'a', state: 'succeeded', progress: 1 })[0],
    { id: 'a', kind: 'export', state: 'succeeded', progress: 1 })
  assert.equal(withFollowed(jobs, { id: 'c', kind: 'export', state: 'queued' }).length, 3)
  assert.equal(withFollowed(jobs, null), jobs)
})

test('the download link says what is in the zip, how large, and until when', () => {
  const link = readyLinkText(done('j1', 'dicom-seg', 'x'), (s) => `<${s}>`)
  assert.equal(link.text, 'Download abdomen_masks.zip (DICOM SEG, 38 masks of 40 studies, 123.5 MB)')
  assert.equal(link.until, 'until <2026-12-09T10:00:00+00:00>')
  assert.equal(link.title, 'prepared by export job j1; kept until <2026-12-09T10:00:00+00:00>; SHA-256 ab12')
  const one = readyLinkText(done('j2', 'nifti', 'x', { n_masks: 1, n_studies: 1, bytes: 900 }), (s) => s)
  assert.equal(one.text, 'Download abdomen_masks.zip (NIfTI, 1 mask of 1 study, 1 kB)')
  assert.equal(fmtSize(2.5e9), '2.50 GB')
  assert.equal(fmtSize(undefined), '?')
})
