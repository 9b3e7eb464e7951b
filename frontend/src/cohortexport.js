// The cohort's masks in one zip: what the page offers and says (pure functions, no DOM; node tests
// in test/cohortexport.test.js). Two ways (docs/API.md, "Studies" and "Jobs"):
// - directly: GET /api/v1/projects/{id}/masks.zip, built inside the request (small NIfTI cohorts);
// - prepared: POST /api/v1/projects/{id}/jobs {"kind": "export", "format"} (a job with progress),
//   then GET /api/v1/jobs/{job_id}/download until the zip expires (metrics.expires_at).

import { isLiveJob } from './jobstate.js'

/** The largest cohort whose NIfTI masks the page downloads directly (above: an export job). */
export const DIRECT_MAX_STUDIES = 20

export const FORMAT_NAMES = { nifti: 'NIfTI', 'dicom-seg': 'DICOM SEG' }

/** The rule, as the page says it. */
export const EXPORT_RULE = `All masks of a cohort of up to ${DIRECT_MAX_STUDIES} studies download at once as NIfTI; `
  + 'a larger cohort, and DICOM SEG (seconds per study), is prepared in the background first (progress on the button), '
  + 'then downloaded from the link that appears here.'

/** 'direct' (download now) or 'job' (prepare the zip in the background first). */
export function exportMode(format, nStudies) {
  return format === 'nifti' && (nStudies ?? 0) <= DIRECT_MAX_STUDIES ? 'direct' : 'job'
}

const formatOf = (job) => job?.format ?? job?.metrics?.format ?? null

/** Whether `job` is an export job that has not ended (of `format`, when given). */
export function isLiveExport(job, format) {
  if (!isLiveJob(job, 'export')) return false
  return !format || formatOf(job) === format
}

/** A succeeded export whose zip is still kept at `now` (ms since the epoch). */
export function isDownloadable(job, now = Date.now()) {
  if (job?.kind !== 'export' || job.state !== 'succeeded') return false
  const m = job.metrics ?? {}
  if (m.expired_at) return false
  return !m.expires_at || Date.parse(m.expires_at) > now
}

/** `jobs` with the job the page follows (fresher: it gets the live events) in place of its row. */
export function withFollowed(jobs, followed) {
  const list = jobs ?? []
  if (!followed?.id) return list
  return list.some((j) => j.id === followed.id)
    ? list.map((j) => (j.id === followed.id ? { ...j, ...followed } : j))
    : [followed, ...list]
}

/** The newest downloadable export of each format, newest first. */
export function readyExports(jobs, now = Date.now()) {
  const seen = new Set()
  const out = []
  for (const j of [...(jobs ?? [])].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)))) {
    const fmt = formatOf(j)
    if (isDownloadable(j, now) && !seen.has(fmt)) {
      seen.add(fmt)
      out.push(j)
    }
  }
  return out
}

/** The text of the export button for `format`: what a click does, or the live export's progress. */
export function exportButtonText(format, nStudies, liveJob) {
  const name = FORMAT_NAMES[format] ?? format
  if (isLiveExport(liveJob)) return `Preparing ${name} zip… ${Math.round((liveJob.progress ?? 0) * 100)} %`
  if (exportMode(format, nStudies) === 'direct') return 'Download all masks'
  return format === 'nifti' ? 'Prepare all masks (NIfTI zip)' : 'Prepare DICOM SEG zip'
}

/** Bytes as a person reads them. */
export function fmtSize(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '?'
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`
  return `${Math.max(1, Math.ceil(n / 1e3))} kB`
}

/** The download link of a prepared zip: {text, title}. `fmtDate`: how the page writes a time. */
export function readyLinkText(job, fmtDate = (s) => new Date(s).toLocaleString()) {
  const m = job?.metrics ?? {}
  const name = FORMAT_NAMES[m.format] ?? m.format ?? 'masks'
  const masks = `${m.n_masks} mask${m.n_masks === 1 ? '' : 's'} of ${m.n_studies} stud${m.n_studies === 1 ? 'y' : 'ies'}`
  return {
    text: `Download ${m.file_name ?? 'masks.zip'} (${name}, ${masks}, ${fmtSize(m.bytes)})`,
    title: `prepared by export job ${job?.id}${m.expires_at ? `; kept until ${fmtDate(m.expires_at)}` : ''}; `
      + `SHA-256 ${m.sha256 ?? '?'}`,
    until: m.expires_at ? `until ${fmtDate(m.expires_at)}` : '',
  }
}
