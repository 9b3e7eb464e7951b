// Unit tests for how the page shows reference masks and evaluations (node --test; no browser needed).
import test from 'node:test'
import assert from 'node:assert/strict'
import { fmtDice, fmtMm, notScoredLines, organRows, referenceBadge, studyRows, summaryText } from '../src/evaluation.js'

const project = { labels: { 1: 'liver', 2: 'kidney_right', 10: 'spleen' }, colors: { 1: '#e6194b', 2: '#3cb44b', 10: '#4363d8' } }
const evaluation = {
  n_studies: 2,
  mean_dice: 0.6,
  classes: {
    1: { name: 'liver', dice: 0.91234, hd95: 4.25, hd95_missing: 0, n_studies: 2 },
    2: { name: 'kidney_right', dice: 0.3, hd95: 23.6, hd95_missing: 1, n_studies: 2 },
    10: { name: 'spleen', dice: null, hd95: null, hd95_missing: 0, n_studies: 0 },
  },
  studies: [
    { study_id: 'a', name: 'case_02', mean_dice: 0.8, dice: { 1: 0.95, 2: 0.65, 10: null } },
    { study_id: 'b', name: 'case_03', mean_dice: 0.45, dice: { 1: 0.9, 2: 0, 10: null } },
  ],
  excluded: [{ study_id: 'x', name: 'case_01', reason: 'exemplar the model was trained on' }],
  failed: [{ study_id: 'y', name: 'case_05', reason: 'the reference mask is not a readable NIfTI volume' }],
}

test('numbers: three decimals for Dice, mm for HD95, a dash where there is none', () => {
  assert.equal(fmtDice(0.91234), '0.912')
  assert.equal(fmtDice(0), '0.000')
  assert.equal(fmtDice(null), '—')
  assert.equal(fmtMm(4.25), '4.3 mm')
  assert.equal(fmtMm(23.6), '24 mm')
  assert.equal(fmtMm(null), '—')
})

test('the per-organ table follows the project labels in numeric order, with their names and colours', () => {
  const rows = organRows(evaluation, project)
  assert.deepEqual(rows.map((r) => [r.value, r.name, r.color, r.dice, r.hd95, r.nStudies, r.hd95Missing]), [
    ['1', 'liver', '#e6194b', '0.912', '4.3 mm', 2, 0],
    ['2', 'kidney_right', '#3cb44b', '0.300', '24 mm', 2, 1],
    ['10', 'spleen', '#4363d8', '—', '—', 0, 0],
  ])
  // an organ the project renamed since shows the project's name; one it no longer has keeps the evaluation's
  const renamed = organRows({ classes: { 1: { name: 'old liver', dice: 0.5 }, 3: { name: 'gone', dice: 0.2 } } }, { labels: { 1: 'liver' } })
  assert.deepEqual(renamed.map((r) => [r.name, r.color, r.dice]), [['liver', '#999', '0.500'], ['gone', '#999', '0.200']])
})

test('per-study rows put the worst study first, Dice per organ in the given order', () => {
  assert.deepEqual(studyRows(evaluation, ['1', '2', '10']), [
    { id: 'b', name: 'case_03', mean: '0.450', dice: ['0.900', '0.000', '—'] },
    { id: 'a', name: 'case_02', mean: '0.800', dice: ['0.950', '0.650', '—'] },
  ])
  assert.deepEqual(studyRows(null, ['1']), [])
})

test('studies not scored are named with why', () => {
  assert.deepEqual(notScoredLines(evaluation), [
    'case_01 (excluded): exemplar the model was trained on',
    'case_05 (could not be scored): the reference mask is not a readable NIfTI volume',
  ])
})

test('the model row summary', () => {
  assert.equal(summaryText({ mean_dice: 0.8123, n_studies: 3, n_excluded: 1 }), 'Dice 0.812 · 3 studies')
  assert.equal(summaryText({ mean_dice: 0.5, n_studies: 1, n_excluded: 0 }), 'Dice 0.500 · 1 study')
  assert.equal(summaryText({ mean_dice: null, n_studies: 0, n_excluded: 2 }), 'no study scored (2 excluded)')
  assert.equal(summaryText(null), null)
})

test('the cohort badge says when a reference is on an exemplar', () => {
  assert.equal(referenceBadge({ has_reference: false }), null)
  assert.equal(referenceBadge({ has_reference: true, is_exemplar: false }).text, 'reference')
  const ex = referenceBadge({ has_reference: true, is_exemplar: true })
  assert.equal(ex.text, 'reference · exemplar')
  assert.match(ex.title, /not measured on it/)
})
