// Which study to annotate: what the page says about an exemplar ranking (pure functions, no DOM;
// node tests in test/exemplar.test.js). Shape: docs/API.md, "Which study to annotate"
// (GET /api/v1/projects/{id}/exemplar-ranking, made by a {"kind": "rank"} job).

import { isLiveJob } from './jobstate.js'

/** Why the suggested study: the one line the cohort card shows under the ranking. */
export const WHY = 'its image maps best onto the other studies by registration; on our benchmark packs this rule never picked a below-median exemplar'

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`

/** The Typicality cell of one study: {text, title, suggested} or null when it was not ranked. */
export function typicalityCell(ranking, study) {
  const row = (ranking?.studies ?? []).find((x) => x.study_id === study?.id)
  if (!row) return null
  const score = typeof row.score === 'number' && Number.isFinite(row.score) ? row.score.toFixed(3) : '—'
  const suggested = row.study_id === ranking.suggested_study_id
  return {
    text: `#${row.rank} of ${ranking.n_ranked}`,
    title: `typicality ${score} (rank ${row.rank} of ${ranking.n_ranked}; mean image similarity after registering it onto `
      + 'other studies of the cohort, higher = maps better; compare within this ranking only)',
    suggested,
  }
}

/** What a study that was not ranked shows instead: a reason, or '' (no ranking at all). */
export function notRankedText(ranking, study) {
  if (!ranking || !study) return ''
  const failed = (ranking.not_ranked ?? []).find((x) => x.study_id === study.id)
  if (failed) return `not ranked: ${failed.reason}`
  if ((ranking.added_since ?? []).some((x) => x.study_id === study.id)) return 'added after the ranking'
  return 'not ranked'
}

/**
 * The lines above the cohort table: the suggestion and why, then whether the ranking is out of
 * date. `studies`: the cohort table's studies (for the current names and exemplar flags).
 */
export function rankingLines(ranking, studies) {
  if (!ranking) return []
  const lines = []
  const best = (ranking.studies ?? []).find((x) => x.study_id === ranking.suggested_study_id)
  if (best) {
    const now = (studies ?? []).find((s) => s.id === best.study_id)
    const name = now?.name ?? best.name
    const annotated = now ? now.is_exemplar : best.is_exemplar
    lines.push(annotated
      ? `★ ${name} is already annotated, and it is the suggested exemplar: ${WHY}.`
      : `★ Suggested exemplar: annotate ${name} — ${WHY}.`)
  } else {
    lines.push('Every study of the last ranking was deleted since: rank the cohort again.')
  }
  const added = ranking.added_since?.length ?? 0
  const removed = ranking.removed_since?.length ?? 0
  if (added || removed) {
    const what = [added && `${plural(added, 'study was', 'studies were')} added`,
      removed && `${plural(removed, 'ranked study was', 'ranked studies were')} deleted`].filter(Boolean).join(' and ')
    lines.push(`${what[0].toUpperCase()}${what.slice(1)} since this ranking: ask again for an up-to-date suggestion.`)
  }
  return lines
}

/** Whether `job` is a rank job that has not ended. */
export function isLiveRank(job) {
  return isLiveJob(job, 'rank')
}

/** The text of the "Which study to annotate?" button: its progress while a rank job runs. */
export function rankButtonText(job) {
  if (!isLiveRank(job)) return 'Which study to annotate?'
  const what = job.stage === 'rank' ? 'Ranking' : 'Reading the studies'
  return `${what}… ${Math.round((job.progress ?? 0) * 100)} %`
}

/** The most studies one ranking takes (store/exemplars.py MAX_STUDIES: each is registered onto
 * up to 9 others). */
export const MAX_RANKED = 30

/** Which studies a ranking asked from the page covers: null = all of them; for a larger cohort
 * {ids, note}: MAX_RANKED picked at random (``rand`` in [0, 1), Math.random by default). */
export function rankCandidates(studies, max = MAX_RANKED, rand = Math.random) {
  if (!studies || studies.length <= max) return null
  const pool = studies.map((s) => s.id)
  for (let i = pool.length - 1; i > 0; i--) { // Fisher-Yates
    const j = Math.floor(rand() * (i + 1))
    ;[pool[i], pool[j]] = [pool[j], pool[i]]
  }
  return {
    ids: pool.slice(0, max),
    note: `ranking ${max} of the ${studies.length} studies, picked at random (a ranking registers each study onto `
      + 'up to 9 others, so it takes at most 30); ask again for another sample',
  }
}
