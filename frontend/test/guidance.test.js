// Unit tests for the next-slice guidance (node --test; no browser needed).
import test from 'node:test'
import assert from 'node:assert/strict'
import { completionFor, confidenceBadge, confidenceMedians, fromRegistrationText, nextSliceFor, nextSliceText, notLearnedText, trainingDoneHint, trainingSummary } from '../src/guidance.js'

const model = (id, created, exemplars, next) => ({ id, created_at: created, exemplar_study_ids: exemplars, metrics: next ? { next_slice_to_paint: next } : { fit_seconds: 3 } })

test('the newest model with a suggestion for the study wins', () => {
  const models = [
    model('old', '2026-01-01T00:00:00', ['s1'], [{ study_id: 's1', slice: 4, gap_mm: 80, organ_extent: [1, 12] }]),
    model('new', '2026-01-02T00:00:00', ['s1', 's2'], [{ study_id: 's2', slice: 9, gap_mm: 40, organ_extent: [3, 20] }, { study_id: 's1', slice: 7, gap_mm: 30, organ_extent: [1, 12] }]),
  ]
  assert.deepEqual(nextSliceFor(models, 's1'), { slice: 7, gap_mm: 30, organ_extent: [1, 12], model_id: 'new' })
  assert.equal(nextSliceFor(models, 's2').slice, 9)
  assert.equal(nextSliceFor(models, 'unknown'), null)
  assert.equal(nextSliceFor([], 's1'), null)
})

test('a newer model trained on the study without a suggestion hides older ones', () => {
  const models = [
    model('old', '2026-01-01T00:00:00', ['s1'], [{ study_id: 's1', slice: 4, gap_mm: 80 }]),
    model('whole', '2026-01-03T00:00:00', ['s1'], []),
  ]
  assert.equal(nextSliceFor(models, 's1'), null)
  // models of other studies do not
  assert.equal(nextSliceFor([models[0], model('x', '2026-01-04T00:00:00', ['s9'], null)], 's1').slice, 4)
})

test('the text counts slices from 1 like the viewer and says when the slice is painted', () => {
  const s = { slice: 11, gap_mm: 92.4 }
  assert.match(nextSliceText(s, false), /paint slice 12 next.*92 mm/)
  assert.match(nextSliceText(s, true), /Slice 12 .* annotated now/)
})

test('after a training the message names the study and the slice (counted from 1)', () => {
  const m = model('m', '2026-01-01T00:00:00', ['s1'], [{ study_id: 's1', slice: 0, gap_mm: 50 }])
  assert.equal(trainingDoneHint(m, [{ id: 's1', name: 'case_01.nii.gz' }]), 'To improve the model most, paint slice 1 of case_01.nii.gz next (Annotate, then "Go to slice").')
  assert.equal(trainingDoneHint(model('w', '2026-01-01T00:00:00', ['s1'], []), []), '')
  assert.equal(trainingDoneHint(undefined, []), '')
})

test('the completion shown is the newest training that completed the study', () => {
  const m = (id, created, exemplars, completed) => ({ id, created_at: created, exemplar_study_ids: exemplars, metrics: { completed_exemplars: completed } })
  const models = [m('a', '2026-01-01T00:00:00', ['s1'], ['s1']), m('b', '2026-01-02T00:00:00', ['s1', 's2'], ['s1', 's2'])]
  assert.deepEqual(completionFor(models, 's1'), { model_id: 'b' })
  assert.deepEqual(completionFor(models, 's2'), { model_id: 'b' })
  assert.equal(completionFor(models, 's3'), null)
  // annotated on every slice since: the newest training did not complete it, older ones are stale
  assert.equal(completionFor([...models, m('c', '2026-01-03T00:00:00', ['s1'], [])], 's1'), null)
  // models from before this feature carry no list
  assert.equal(completionFor([{ id: 'x', created_at: '2026-01-01', metrics: {} }], 's1'), null)
})

test('the not-learned warning names the organs, and only when there are some', () => {
  assert.equal(notLearnedText({ organs_not_learned: ['gallbladder', 'adrenal L'] }), 'not learned: gallbladder, adrenal L')
  assert.equal(notLearnedText({ organs_not_learned: [] }), null)
  assert.equal(notLearnedText({ fit_seconds: 3 }), null) // models made before the self-check
  assert.equal(notLearnedText(undefined), null)
})

test('the from-registration warning names the organs, and only when there are some', () => {
  assert.equal(fromRegistrationText({ organs_from_registration: ['pancreas', 'adrenal R'] }), 'check: pancreas, adrenal R')
  assert.equal(fromRegistrationText({ organs_from_registration: [] }), null)
  assert.equal(fromRegistrationText({ organs_not_learned: ['pancreas'] }), null) // models made before it
  assert.equal(fromRegistrationText(null), null)
})

test('the confidence badge marks a study well below its model\'s median as "review first"', () => {
  const st = (id, conf, model = 'm1') => ({ id, mask: conf === undefined ? null : { model_id: model, confidence: conf } })
  const cohort = [st('a', 0.93), st('b', 0.92), st('c', 0.91), st('d', 0.86), st('e', 0.0), st('f'), st('g', 0.5, 'm0')]
  const ranked = confidenceMedians(cohort)
  assert.deepEqual(ranked.get('m1'), { median: 0.91, n: 5 })
  // median of m1's five masks is 0.91: d is 0.05 below, c and b are not
  assert.equal(confidenceBadge(ranked, cohort[3]).level, 'warn')
  assert.match(confidenceBadge(ranked, cohort[3]).text, /0\.86 · review first/)
  assert.equal(confidenceBadge(ranked, cohort[2]).level, 'plain')
  assert.equal(confidenceBadge(ranked, cohort[0]).level, 'plain')
  assert.equal(confidenceBadge(ranked, cohort[4]).level, 'err') // no organ found at all
  assert.equal(confidenceBadge(ranked, cohort[5]).level, 'none') // not segmented
  // another model's mask is not ranked against m1's, and too few peers are not ranked at all
  assert.equal(confidenceBadge(ranked, cohort[6]).level, 'plain')
  assert.equal(confidenceBadge(confidenceMedians([st('x', 0.9), st('y', 0.5)]), st('y', 0.5)).level, 'plain')
})

test('the Models table says what a training did in words, every metric in the title', () => {
  const s = trainingSummary({ exemplar_dice_mean: 0.9412, pseudo_confidence: 0.938, stage1_iters: 700, stage2_iters: 400,
    fit_seconds: 289.4, stage2_dice: 0.0666, note: 'text' })
  assert.equal(s.text, 'fits its exemplar: Dice 0.94 · pseudo-labels 0.94 confident · 700 + 400 steps · 289 s')
  assert.ok(s.title.includes('stage2_dice: 0.0666') && s.title.includes('fit_seconds: 289') && !s.title.includes('note'))
  assert.deepEqual(trainingSummary(null), { text: '', title: '' })
  assert.equal(trainingSummary({ stage1_iters: 330 }).text, '330 steps')
})
