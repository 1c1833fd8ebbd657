// A readable page of the contract the service runs on: operations, parameters, bodies, answers and schemas.
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'className') node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
};

// a $ref as the service serves it may name the document before its '#': only the pointer after it counts
const pointer = (ref) => ref.slice(ref.indexOf('#') + 2).split('/').filter((k) => k !== '');
const refName = (ref) => pointer(ref).pop();

function typeOf(schema) {
  if (!schema) return '';
  if (schema.$ref) return refName(schema.$ref);
  if (schema.allOf) return schema.allOf.map(typeOf).join(' & ');
  const t = Array.isArray(schema.type) ? schema.type.join(' | ') : (schema.type || 'any');
  if (t.startsWith('array') && schema.items) return `${t} of ${typeOf(schema.items)}`;
  const extra = [];
  if (schema.enum) extra.push(`one of ${schema.enum.join(', ')}`);
  if (schema.minimum !== undefined) extra.push(`≥ ${schema.minimum}`);
  if (schema.maximum !== undefined) extra.push(`≤ ${schema.maximum}`);
  if (schema.maxLength !== undefined) extra.push(`≤ ${schema.maxLength} chars`);
  if (schema.default !== undefined) extra.push(`default ${JSON.stringify(schema.default)}`);
  return extra.length ? `${t} (${extra.join('; ')})` : t;
}

function resolve(contract, obj) {
  let o = obj;
  while (o && o.$ref) o = pointer(o.$ref).reduce((n, k) => (n ? n[k] : undefined), contract);
  return o;
}

function scopeOf(op) {
  const req = (op.security || []).find((s) => s.bearerAuth && s.bearerAuth.length);
  return req ? `needs a key with the ${req.bearerAuth[0]} scope` : 'public';
}

function operation(contract, path, method, op) {
  const params = (op.parameters || []).map((p) => resolve(contract, p));
  const body = op.requestBody && Object.entries(op.requestBody.content || {});
  const answers = Object.entries(op.responses || {}).map(([code, r]) => {
    const res = resolve(contract, r);
    const content = res.content ? Object.values(res.content)[0] : null;
    return el('tr', {}, el('td', {}, code), el('td', {}, res.description || ''),
      el('td', {}, content ? typeOf(content.schema) : ''));
  });
  return el('section', { className: 'op', id: op.operationId },
    el('h3', {}, el('span', { className: `method ${method}` }, method.toUpperCase()), path),
    el('p', {}, el('strong', {}, op.operationId), ' — ', el('span', { className: 'scope' }, scopeOf(op))),
    op.summary ? el('p', {}, op.summary) : '',
    params.length ? el('table', {}, el('tr', {}, el('th', {}, 'parameter'), el('th', {}, 'in'),
      el('th', {}, 'type'), el('th', {}, 'required')),
    params.map((p) => el('tr', {}, el('td', {}, el('code', {}, p.name)), el('td', {}, p.in),
      el('td', {}, typeOf(p.schema)), el('td', {}, p.required ? 'yes' : 'no')))) : '',
    body && body.length ? el('p', {}, 'Body: ', body.map(([type, m]) => `${type} ${typeOf(m.schema)}`).join(', ')) : '',
    el('table', {}, el('tr', {}, el('th', {}, 'status'), el('th', {}, 'answer'), el('th', {}, 'body')), answers));
}

function schemaSection(name, schema) {
  const props = Object.entries(schema.properties || {});
  const required = new Set(schema.required || []);
  return el('section', { className: 'op', id: `schema-${name}` },
    el('h3', {}, name),
    schema.description ? el('p', {}, schema.description) : '',
    props.length ? el('table', {}, el('tr', {}, el('th', {}, 'field'), el('th', {}, 'type'), el('th', {}, 'required')),
      props.map(([k, v]) => el('tr', {}, el('td', {}, el('code', {}, k)), el('td', {}, typeOf(v)),
        el('td', {}, required.has(k) ? 'yes' : '')))) : el('p', {}, typeOf(schema)));
}

async function main() {
  const res = await fetch('/api/v1/openapi.json');
  const contract = await res.json();
  const main = document.getElementById('operations');
  main.replaceChildren(el('h2', {}, 'Operations'), el('p', {}, contract.info.description || ''));
  const toc = el('ul');
  for (const [path, item] of Object.entries(contract.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!op || !op.operationId) continue;
      main.append(operation(contract, path, method, op));
      toc.append(el('li', {}, el('a', { href: `#${op.operationId}` }, `${method.toUpperCase()} ${path}`)));
    }
  }
  document.getElementById('toc').append(toc);
  const schemas = document.getElementById('schemas');
  for (const [name, schema] of Object.entries(contract.components.schemas)) schemas.append(schemaSection(name, schema));
}

main().catch((err) => {
  document.getElementById('operations').replaceChildren(el('p', {}, `The contract could not be read: ${err.message}`));
});
