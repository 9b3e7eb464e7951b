// Unit tests for how the page shows which study to annotate (node --test; no browser needed).
import test from 'node:test'
import assert from 'node:assert/strict'
import { MAX_RANKED, WHY, isLiveRank, notRankedText, rankButtonText, rankCandidates, rankingLines, typicalityCell } from '../src/exemplar.js'

const ranking = {
  job_id: 'j1',
  n_ranked: 3,
  suggested_study_id: 'b',
  studies: [
    { study_id: 'b', name: 'case_02', rank: 1, score: 0.9251, is_exemplar: false },
    { study_id: 'c', name: 'case_03', rank: 2, score: 0.9, is_exemplar: false },
    { study_id: 'a', name: 'case_01', rank: 3, score: 0.775, is_exemplar: true },
  ],
  not_ranked: [],
  added_since: [],
  removed_since: [],
  stale: false,
}
const studies = [{ id: 'a', name: 'case_01', is_exemplar: true }, { id: 'b', name: 'case_02', is_exemplar: false },
  { id: 'c', name: 'case_03', is_exemplar: false }]

test('each ranked study shows its rank; the first is the suggested exemplar; the title has the score', () => {
  assert.deepEqual(typicalityCell(ranking, { id: 'b' }), {
    text: '#1 of 3', suggested: true,
    title: 'typicality 0.925 (rank 1 of 3; mean image similarity after registering it onto other studies of the cohort, '
      + 'higher = maps better; compare within this ranking only)',
  })
  const last = typicalityCell(ranking, { id: 'a' })
  assert.equal(last.text, '#3 of 3')
  assert.equal(last.suggested, false)
  assert.match(last.title, /^typicality 0\.775 /)
  assert.equal(typicalityCell(ranking, { id: 'zz' }), null)
  assert.equal(typicalityCell(null, { id: 'a' }), null)
})

test('the suggestion, in one line with why; an annotated suggestion says so', () => {
  assert.deepEqual(rankingLines(ranking, studies), [`★ Suggested exemplar: annotate case_02 — ${WHY}.`])
  assert.equal(WHY, 'its image maps best onto the other studies by registration; on our benchmark packs this rule never picked a below-median exemplar')
  // the study was painted after the ranking: today's flag counts, not the ranking's
  const painted = studies.map((s) => (s.id === 'b' ? { ...s, is_exemplar: true } : s))
  assert.deepEqual(rankingLines(ranking, painted), [`★ case_02 is already annotated, and it is the suggested exemplar: ${WHY}.`])
  assert.deepEqual(rankingLines(null, studies), [])
})

test('a stale ranking says what changed since', () => {
  const stale = { ...ranking, added_since: [{ study_id: 'd', name: 'case_05' }, { study_id: 'e', name: 'x' }], removed_since: ['c'], stale: true }
  assert.equal(rankingLines(stale, studies)[1],
    '2 studies were added and 1 ranked study was deleted since this ranking: ask again for an up-to-date suggestion.')
  const one = { ...ranking, added_since: [{ study_id: 'd', name: 'case_05' }], stale: true }
  assert.equal(rankingLines(one, studies)[1], '1 study was added since this ranking: ask again for an up-to-date suggestion.')
  const gone = { ...ranking, suggested_study_id: null, studies: [], removed_since: ['a', 'b', 'c'], stale: true }
  assert.deepEqual(rankingLines(gone, []), ['Every study of the last ranking was deleted since: rank the cohort again.',
    '3 ranked studies were deleted since this ranking: ask again for an up-to-date suggestion.'])
})

test('a study outside the ranking says why', () => {
  const r = { ...ranking, not_ranked: [{ study_id: 'x', name: 'bad', reason: 'its stored volume is missing from object storage' }],
    added_since: [{ study_id: 'd', name: 'case_05' }] }
  assert.equal(notRankedText(r, { id: 'x' }), 'not ranked: its stored volume is missing from object storage')
  assert.equal(notRankedText(r, { id: 'd' }), 'added after the ranking')
  assert.equal(notRankedText(r, { id: 'q' }), 'not ranked')
  assert.equal(notRankedText(null, { id: 'q' }), '')
})

test('the button shows a running rank job’s stage and progress, and only a rank job’s', () => {
  assert.equal(rankButtonText(null), 'Which study to annotate?')
  assert.equal(rankButtonText({ kind: 'rank', state: 'queued', progress: 0 }), 'Reading the studies… 0 %')
  assert.equal(rankButtonText({ kind: 'rank', state: 'running', stage: 'load', progress: 0.456 }), 'Reading the studies… 46 %')
  assert.equal(rankButtonText({ kind: 'rank', state: 'running', stage: 'rank', progress: 0.95 }), 'Ranking… 95 %')
  assert.equal(rankButtonText({ kind: 'rank', state: 'succeeded', progress: 1 }), 'Which study to annotate?')
  assert.equal(rankButtonText({ kind: 'train', state: 'running', progress: 0.5 }), 'Which study to annotate?')
  assert.equal(isLiveRank({ kind: 'rank', state: 'running' }), true)
  assert.equal(isLiveRank({ kind: 'rank', state: 'failed' }), false)
})

test('a cohort larger than a ranking takes is sampled: distinct ids of the cohort, a note saying so', () => {
  const cohort = Array.from({ length: 45 }, (_, i) => ({ id: `s${i}` }))
  assert.equal(MAX_RANKED, 30)
  assert.equal(rankCandidates(cohort.slice(0, 30)), null)
  let x = 0.123
  const rand = () => { x = (x * 9301 + 49297) % 233280 / 233280; return x }
  const pick = rankCandidates(cohort, MAX_RANKED, rand)
  assert.equal(pick.ids.length, 30)
  assert.equal(new Set(pick.ids).size, 30)
  assert.ok(pick.ids.every((id) => cohort.some((s) => s.id === id)))
  assert.match(pick.note, /^ranking 30 of the 45 studies, picked at random/)
})
