// Unit tests for how DICOM values are shown (node --test; no browser needed).
import test from 'node:test'
import assert from 'node:assert/strict'
import { dicomDate, personName } from '../src/dicom.js'

test('person names read family, given', () => {
  assert.equal(personName('Doe^Jane'), 'Doe, Jane')
  assert.equal(personName('Doe'), 'Doe')
  assert.equal(personName(null), '')
})

test('dates read YYYY-MM-DD; ranges and blanks stay as given', () => {
  assert.equal(dicomDate('20261207'), '2026-12-07')
  assert.equal(dicomDate('20260101-20261231'), '20260101-20261231')
  assert.equal(dicomDate(undefined), '')
})
