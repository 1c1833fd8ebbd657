// What is drawn over an image: boxes with labels, masks, skeletons, oriented boxes and a classifier's top classes.
// The same frame serves the gallery's thumbnails and the detail view (there at the image's own size, zoomed).

import { INF, auth, classColour, el, withParams } from './common.js';

/**
 * An image with its predictions drawn over it, in percentages of the frame (so any size the frame is given fits).
 * Every drawn piece carries data-pred, the prediction's index in r.predictions, for filters and highlighting.
 */
export function resultFrame(jobId, r) {
  const preds = Array.isArray(r.predictions) ? r.predictions : [];
  const frame = el('div', { className: 'frame' });
  const img = el('img', {
    src: withParams(`${INF}/jobs/${jobId}/images/${r.image_index}`, { access_token: auth.token }),
    alt: r.image_name, decoding: 'async', draggable: 'false',
  });
  img.addEventListener('error', () => {
    frame.classList.add('missing');
    frame.append(el('p', { className: 'image-missing', text: 'The stored image could not be loaded.' }));
  });
  frame.append(img);
  const w = r.width || 1;
  const h = r.height || 1;
  // boxes sharing a corner (one object scored as two classes) stack their labels instead of hiding each other;
  // the most confident box is drawn last, on top
  const order = preds.map((p, i) => i).sort((a, b) => preds[b].confidence - preds[a].confidence);
  const near = (p, q) => Math.abs(q.bbox.x1 - p.bbox.x1) < w * 0.04 && Math.abs(q.bbox.y1 - p.bbox.y1) < h * 0.04;
  const slots = order.map((i, k) => order.slice(0, k).filter((j) => near(preds[i], preds[j])).length);
  for (let k = order.length - 1; k >= 0; k -= 1) {
    const i = order[k];
    const p = preds[i];
    const b = p.bbox;
    const colour = classColour(p.class_id);
    if (p.mask) frame.append(maskLayer(p, i, colour));
    if (Array.isArray(p.keypoints)) frame.append(poseLayer(p, i, w, h, colour));
    if (p.obb) frame.append(obbLayer(p, i, w, h, colour));
    const top = (b.y1 / h) * 100;
    frame.append(el('div', {
      className: `box${top < 6 * (slots[k] + 1) ? ' label-inside' : ''}${p.obb ? ' oriented' : ''}`,
      dataset: { className: p.class_name, classId: p.class_id, confidence: p.confidence, pred: i },
      style: {
        left: `${(b.x1 / w) * 100}%`, top: `${top}%`,
        width: `${((b.x2 - b.x1) / w) * 100}%`, height: `${((b.y2 - b.y1) / h) * 100}%`,
        borderColor: colour,
      },
    }, el('span', {
      className: 'box-label', style: { background: colour, '--slot': slots[k] },
      text: `${p.class_name} ${(p.confidence * 100).toFixed(0)}%`,
    })));
  }
  if (r.error) frame.append(el('p', { className: 'image-error', role: 'note', text: `Error: ${r.error}` }));
  if (Array.isArray(r.classifications) && r.classifications.length) {
    // a classifier's top classes, best first, over the image
    frame.append(el('ol', { className: 'classifications', 'aria-label': 'Top classes' },
      ...r.classifications.slice(0, 5).map((c) => el('li', {
        dataset: { className: c.class_name, score: c.score },
        text: `${c.class_name} ${(c.score * 100).toFixed(0)}%`,
      }))));
  }
  return frame;
}

/** Hides what does not pass the class and confidence filters in one frame; returns [shown, total] predictions. */
export function filterFrame(frame, classId, min) {
  let visible = 0;
  let total = 0;
  for (const box of frame.querySelectorAll('.box')) {
    const show = Number(box.dataset.confidence) >= min && (classId === '' || box.dataset.classId === classId);
    box.hidden = !show;
    for (const layer of frame.querySelectorAll(`.mask-layer[data-pred="${box.dataset.pred}"], `
      + `.pose-layer[data-pred="${box.dataset.pred}"]`)) { // pose and oriented-box layers
      layer.classList.toggle('filtered', !show);
    }
    if (show) visible += 1;
    total += 1;
  }
  return [visible, total];
}

/** The run lengths of a COCO compressed RLE string (pycocotools' rleFrString). */
function rleCounts(text) {
  const counts = [];
  let p = 0;
  while (p < text.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      const c = text.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p += 1;
      k += 1;
      if (!more && (c & 0x10) && 5 * k < 32) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}

const MASK_MAX_SIDE = 480;

/** A mask as a translucent layer over its image, drawn at most 480 px on its long side (CSS scales it). */
function maskLayer(p, index, colour) {
  const [h, w] = p.mask.size;
  const scale = Math.min(1, MASK_MAX_SIDE / Math.max(w, h));
  const cw = Math.max(1, Math.round(w * scale));
  const ch = Math.max(1, Math.round(h * scale));
  const canvas = el('canvas', { className: 'mask-layer', width: cw, height: ch, dataset: { pred: index } });
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(cw, ch);
  ctx.fillStyle = colour; // the browser gives it back as #rrggbb
  const [r, g, b] = ctx.fillStyle.slice(1).match(/../g).map((hex) => parseInt(hex, 16));
  let pos = 0;
  let painted = 0;
  rleCounts(p.mask.counts).forEach((run, i) => {
    if (i % 2 === 1) { // runs of ones, column-major
      for (let q = pos; q < pos + run; q += 1) {
        const o = (Math.min(ch - 1, Math.floor((q % h) * scale)) * cw
          + Math.min(cw - 1, Math.floor(Math.floor(q / h) * scale))) * 4;
        if (image.data[o + 3] === 0) painted += 1;
        image.data[o] = r;
        image.data[o + 1] = g;
        image.data[o + 2] = b;
        image.data[o + 3] = 110;
      }
    }
    pos += run;
  });
  ctx.putImageData(image, 0, 0);
  canvas.dataset.painted = String(painted);
  return canvas;
}

const SKELETON = [[15, 13], [13, 11], [16, 14], [14, 12], [11, 12], [5, 11], [6, 12], [5, 6], [5, 7], [6, 8],
  [7, 9], [8, 10], [1, 2], [0, 1], [0, 2], [1, 3], [2, 4], [3, 5], [4, 6]];
const KEYPOINT_MIN_SCORE = 0.3;

/** Keypoints as dots, and COCO's limbs between sure ones, in an SVG over the image (in its pixels). */
const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG over the whole image, in the image's own pixels, tied to prediction {@code index} for the filters. */
function svgLayer(className, index, w, h) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('class', className);
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.dataset.pred = String(index);
  return svg;
}

function poseLayer(p, index, w, h, colour) {
  const ns = SVG_NS;
  const svg = svgLayer('pose-layer', index, w, h);
  const k = p.keypoints;
  const sure = (q) => q && q.score >= KEYPOINT_MIN_SCORE;
  const width = Math.max(w, h) / 200;
  if (k.length === 17) {
    for (const [a, b] of SKELETON) {
      if (!sure(k[a]) || !sure(k[b])) continue;
      const line = document.createElementNS(ns, 'line');
      for (const [attr, v] of [['x1', k[a].x], ['y1', k[a].y], ['x2', k[b].x], ['y2', k[b].y]]) line.setAttribute(attr, v);
      line.setAttribute('stroke', colour);
      line.setAttribute('stroke-width', width);
      svg.append(line);
    }
  }
  for (const q of k) {
    if (!sure(q)) continue;
    const dot = document.createElementNS(ns, 'circle');
    dot.setAttribute('cx', q.x);
    dot.setAttribute('cy', q.y);
    dot.setAttribute('r', width * 1.6);
    dot.setAttribute('fill', '#fff');
    dot.setAttribute('stroke', colour);
    dot.setAttribute('stroke-width', width / 2);
    const title = document.createElementNS(ns, 'title');
    title.textContent = `${q.name} ${(q.score * 100).toFixed(0)}%`;
    dot.append(title);
    svg.append(dot);
  }
  return svg;
}

/** An oriented box as a rotated outline in an SVG over the image (the box element keeps its label and filters). */
function obbLayer(p, index, w, h, colour) {
  const svg = svgLayer('pose-layer obb-layer', index, w, h);
  const polygon = document.createElementNS(SVG_NS, 'polygon');
  polygon.setAttribute('points', p.obb.corners.map(([x, y]) => `${x},${y}`).join(' '));
  polygon.setAttribute('fill', 'none');
  polygon.setAttribute('stroke', colour);
  polygon.setAttribute('stroke-width', Math.max(w, h) / 250);
  svg.append(polygon);
  return svg;
}
