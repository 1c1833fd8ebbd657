// The image detail view: one result at its own size with zoom (wheel, buttons, keys) and pan (drag), every prediction
// listed with hover highlighting both ways, the image's error when it failed, and next/previous through the
// gallery's current order (arrow keys).

import { $, INF, el, setMessage } from './common.js';
import { filterFrame, resultFrame } from './layers.js';
import { matchedCount, resultAt, revealPosition } from './gallery.js';

const ZOOM_STEP = 1.25;
const MAX_ZOOM = 16;

const d = { jobId: null, pos: 0, result: null, scale: 1, minScale: 0.05, x: 0, y: 0, drag: null };

export async function openDetail(jobId, pos) {
  d.jobId = jobId;
  const dialog = $('image-dialog');
  if (!dialog.open) dialog.showModal();
  await show(pos);
}

async function show(pos) {
  const count = matchedCount();
  if (pos < 0 || pos >= count) return;
  d.pos = pos;
  $('detail-position').textContent = `${pos + 1} of ${count}`;
  $('detail-prev').disabled = pos === 0;
  $('detail-next').disabled = pos >= count - 1;
  let r;
  try {
    r = await resultAt(pos);
  } catch (err) {
    setMessage($('detail-error'), `Could not load this result: ${err.message}`, 'error');
    return;
  }
  if (!r || d.pos !== pos) return;
  d.result = r;
  revealPosition(pos);
  render(r);
}

function render(r) {
  $('detail-title').textContent = r.image_name;
  const dialog = $('image-dialog');
  dialog.dataset.imageIndex = String(r.image_index);
  dialog.dataset.imageName = r.image_name;
  setMessage($('detail-error'), r.error ? `This image failed: ${r.error}` : '', 'error');
  const annotated = $('detail-annotated');
  annotated.hidden = Boolean(r.error);
  annotated.href = `${INF}/jobs/${d.jobId}/images/${r.image_index}?annotated=true`;

  const frame = resultFrame(d.jobId, r);
  const w = r.width || 640;
  const h = r.height || 480;
  frame.style.width = `${w}px`;
  frame.style.height = `${h}px`;
  filterFrame(frame, '', 0);
  $('detail-canvas').replaceChildren(frame);
  $('detail-canvas').dataset.width = String(w);
  $('detail-canvas').dataset.height = String(h);
  fit();

  const preds = Array.isArray(r.predictions) ? r.predictions : [];
  const dims = r.width ? `${r.width} × ${r.height} px` : 'size unknown';
  const cls = Array.isArray(r.classifications) ? r.classifications : [];
  $('detail-summary').textContent = r.error ? dims
    : `${dims} · ${cls.length ? `top classes: ${cls.slice(0, 3).map((c) => `${c.class_name} ${(c.score * 100)
      .toFixed(1)}%`).join(', ')}` : `${preds.length} prediction${preds.length === 1 ? '' : 's'}`}`;
  const order = preds.map((p, i) => i).sort((a, b) => preds[b].confidence - preds[a].confidence);
  $('detail-predictions').replaceChildren(...order.map((i) => {
    const p = preds[i];
    const b = p.bbox;
    const extra = [];
    if (p.area != null) extra.push(`mask ${p.area.toLocaleString()} px`);
    if (Array.isArray(p.keypoints)) {
      extra.push(`${p.keypoints.filter((k) => k.score >= 0.3).length} of ${p.keypoints.length} keypoints`);
    }
    if (p.obb) extra.push(`angle ${((p.obb.angle * 180) / Math.PI).toFixed(1)}°`);
    return el('tr', { dataset: { pred: i }, tabindex: '0' },
      el('td', { text: p.class_name }),
      el('td', { className: 'num', text: `${(p.confidence * 100).toFixed(1)}%` }),
      el('td', { className: 'num', text: [b.x1, b.y1, b.x2, b.y2].map((v) => Math.round(v)).join(', ') }),
      el('td', { text: extra.join(' · ') }));
  }));
  $('detail-table').hidden = preds.length === 0;
  $('detail-none').hidden = preds.length > 0 || Boolean(r.error) || cls.length > 0;
}

/** The transform of the image: scaled by d.scale, its top-left corner at (d.x, d.y) in the stage. */
function apply() {
  const canvas = $('detail-canvas');
  canvas.style.transform = `translate(${d.x}px, ${d.y}px) scale(${d.scale})`;
  canvas.style.setProperty('--inv', String(1 / d.scale));
  $('zoom-level').value = `${Math.round(d.scale * 100)}%`;
  $('image-dialog').dataset.zoom = d.scale.toFixed(4);
}

function fit() {
  const stage = $('detail-stage');
  const w = Number($('detail-canvas').dataset.width);
  const h = Number($('detail-canvas').dataset.height);
  d.scale = Math.min(stage.clientWidth / w, stage.clientHeight / h, 4) || 1;
  d.minScale = Math.min(d.scale, 1) / 2;
  d.x = (stage.clientWidth - w * d.scale) / 2;
  d.y = (stage.clientHeight - h * d.scale) / 2;
  apply();
}

/** Zooms by {@code factor} keeping the stage point (cx, cy) still (the centre when not given). */
function zoom(factor, cx, cy) {
  const stage = $('detail-stage');
  const px = cx ?? stage.clientWidth / 2;
  const py = cy ?? stage.clientHeight / 2;
  const next = Math.min(MAX_ZOOM, Math.max(d.minScale, d.scale * factor));
  d.x = px - ((px - d.x) * next) / d.scale;
  d.y = py - ((py - d.y) * next) / d.scale;
  d.scale = next;
  apply();
}

function highlight(index) {
  const canvas = $('detail-canvas');
  canvas.classList.toggle('focusing', index != null);
  for (const n of canvas.querySelectorAll('.highlight')) n.classList.remove('highlight');
  for (const n of $('detail-predictions').querySelectorAll('tr.highlight')) n.classList.remove('highlight');
  if (index == null) return;
  for (const n of canvas.querySelectorAll(`[data-pred="${index}"]`)) n.classList.add('highlight');
  const row = $('detail-predictions').querySelector(`tr[data-pred="${index}"]`);
  if (row) row.classList.add('highlight');
}

export function wireDetail() {
  const dialog = $('image-dialog');
  const stage = $('detail-stage');
  $('detail-prev').addEventListener('click', () => show(d.pos - 1));
  $('detail-next').addEventListener('click', () => show(d.pos + 1));
  $('zoom-in').addEventListener('click', () => zoom(ZOOM_STEP));
  $('zoom-out').addEventListener('click', () => zoom(1 / ZOOM_STEP));
  $('zoom-fit').addEventListener('click', fit);
  $('detail-close').addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    $('detail-canvas').replaceChildren();
    const cell = document.querySelector(`.result-card[data-pos="${d.pos}"] .thumb`);
    if (cell) cell.focus();
  });
  dialog.addEventListener('keydown', (e) => {
    if (e.target.closest('input, select, textarea')) return;
    const keys = {
      ArrowLeft: () => show(d.pos - 1), ArrowRight: () => show(d.pos + 1),
      '+': () => zoom(ZOOM_STEP), '=': () => zoom(ZOOM_STEP), '-': () => zoom(1 / ZOOM_STEP), 0: fit,
    };
    const action = keys[e.key];
    if (action) {
      e.preventDefault();
      action();
    }
  });
  stage.addEventListener('wheel', (e) => {
    e.preventDefault();
    const rect = stage.getBoundingClientRect();
    zoom(e.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP, e.clientX - rect.left, e.clientY - rect.top);
  }, { passive: false });
  stage.addEventListener('dblclick', (e) => {
    const rect = stage.getBoundingClientRect();
    zoom(2, e.clientX - rect.left, e.clientY - rect.top);
  });
  stage.addEventListener('pointerdown', (e) => {
    d.drag = { id: e.pointerId, x: e.clientX, y: e.clientY, ox: d.x, oy: d.y };
    stage.setPointerCapture(e.pointerId);
    stage.classList.add('panning');
  });
  stage.addEventListener('pointermove', (e) => {
    if (!d.drag || d.drag.id !== e.pointerId) return;
    d.x = d.drag.ox + e.clientX - d.drag.x;
    d.y = d.drag.oy + e.clientY - d.drag.y;
    apply();
  });
  const end = () => {
    d.drag = null;
    stage.classList.remove('panning');
  };
  stage.addEventListener('pointerup', end);
  stage.addEventListener('pointercancel', end);
  // hovering (or focusing) a row lights its drawing up, and hovering a box lights its row up
  const rows = $('detail-predictions');
  rows.addEventListener('mouseover', (e) => {
    const row = e.target.closest('tr[data-pred]');
    if (row) highlight(row.dataset.pred);
  });
  rows.addEventListener('focusin', (e) => {
    const row = e.target.closest('tr[data-pred]');
    if (row) highlight(row.dataset.pred);
  });
  rows.addEventListener('mouseleave', () => highlight(null));
  rows.addEventListener('focusout', () => highlight(null));
  stage.addEventListener('mouseover', (e) => {
    const box = e.target.closest('.box[data-pred]');
    highlight(box ? box.dataset.pred : null);
  });
  stage.addEventListener('mouseleave', () => highlight(null));
  window.addEventListener('resize', () => {
    if (dialog.open) fit();
  });
}
