// Shared by the UI's modules: the API's paths, requests with the API key, small DOM and formatting helpers.

export const API = '/api/v1';
export const INF = `${API}/test_inference/inference`;
export const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
// GET .../jobs/{id}/export?format=: the files a job's results leave the service as
export const EXPORTS = [
  ['coco', 'COCO JSON'], ['yolo', 'YOLO labels (zip)'], ['csv', 'CSV'], ['jsonl', 'JSON lines'],
  ['errors', 'Failed images'], ['labelstudio', 'Label Studio'], ['annotated', 'Annotated images (zip)'],
];

export const $ = (id) => document.getElementById(id);

/** Creates an element: attrs may hold className, text, dataset, hidden and plain attributes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'className') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(v)) if (dv != null) node.dataset[dk] = dv;
    }
    else if (k === 'style') {
      for (const [sk, sv] of Object.entries(v)) {
        if (sk.startsWith('--')) node.style.setProperty(sk, String(sv));
        else node.style[sk] = sv;
      }
    }
    else if (k === 'hidden') node.hidden = true;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c != null) node.append(c);
  return node;
}

export class ApiError extends Error {
  constructor(status, body) {
    const err = body && body.error;
    const details = err && Array.isArray(err.details) ? err.details : [];
    // a detail that the message already says is not repeated (the message often is the one detail's reason)
    const detail = details.filter((d) => !err.message.includes(d.reason))
      .map((d) => (d.field ? `${d.field}: ${d.reason}` : d.reason)).join('; ');
    super(err ? `${err.message}${detail ? ` (${detail})` : ''}` : `HTTP ${status}`);
    this.status = status;
    this.code = err ? err.code : null;
  }
}

// ------------------------------------------------------------------ API key (when the service requires one)

const KEY_STORE = 'inference-jobs.api-key';
export const auth = { key: sessionStorage.getItem(KEY_STORE) || '', token: null, tokenAt: 0 };

export function authHeaders() {
  return auth.key ? { Authorization: `Bearer ${auth.key}` } : {};
}

/**
 * EventSource and <img> cannot send an Authorization header: with a key, they carry a short-lived stream token
 * (POST /api/v1/stream-tokens), renewed a minute before it expires.
 */
export async function streamToken() {
  if (!auth.key) return null;
  if (!auth.token || Date.now() - auth.tokenAt > auth.ttlMs - 60_000) {
    const t = await postJson(`${API}/stream-tokens`, {});
    auth.token = t.token;
    auth.tokenAt = Date.now();
    auth.ttlMs = (t.expires_in || 300) * 1000;
  }
  return auth.token;
}

export function withParams(path, params) {
  const q = Object.entries(params).filter(([, v]) => v != null && v !== '')
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  return q ? `${path}${path.includes('?') ? '&' : '?'}${q}` : path;
}

export async function request(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: { Accept: 'application/json', ...(options.headers || {}), ...authHeaders() },
  });
  if (res.status === 401) showKeyNeeded();
  const type = res.headers.get('Content-Type') || '';
  const body = type.includes('json') ? await res.json().catch(() => null) : null;
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

export function postJson(path, body, headers = {}) {
  return request(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

export function showKeyNeeded() {
  const form = $('key-form');
  form.dataset.needed = 'true';
  setMessage($('key-message'), auth.key ? 'This API key was refused.' : 'This service needs an API key.', 'error');
}

export function setUpKeyForm() {
  const input = $('api-key');
  input.value = auth.key;
  $('key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (key) sessionStorage.setItem(KEY_STORE, key); else sessionStorage.removeItem(KEY_STORE);
    window.location.reload();
  });
}

export function newKey() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

export function formatDuration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A stable colour per class id, readable on photos. */
export function classColour(classId) {
  return `hsl(${(Number(classId) * 47) % 360} 90% 45%)`;
}

export function setMessage(node, text, kind) {
  node.textContent = text || '';
  node.classList.toggle('error', kind === 'error');
  node.hidden = !text;
}

