// The playground: no framework, no request beyond this server. The controls come from
// /_imageflex/params (the service's own parameter table), so a new parameter shows up here.
'use strict';

const state = { key: null, next: '', values: {} };
const $ = (selector) => document.querySelector(selector);

// How a parameter is edited; a parameter not named here gets a text field.
const CONTROLS = {
  w: { type: 'number', min: 1 },
  h: { type: 'number', min: 1 },
  fit: { type: 'select', options: ['', 'cover', 'contain', 'inside', 'fill'] },
  enlarge: { type: 'checkbox' },
  f: { type: 'select', options: ['', 'avif', 'webp', 'jpeg', 'png', 'gif'] },
  q: { type: 'number', min: 1, max: 100 },
  pos: {
    type: 'select',
    options: ['', 'center', 'top', 'bottom', 'left', 'right', 'top-left', 'top-right', 'bottom-left',
      'bottom-right', 'attention', 'entropy'],
  },
  rotate: { type: 'select', options: ['', '90', '180', '270'] },
  flip: { type: 'checkbox' },
  flop: { type: 'checkbox' },
  dpr: { type: 'number', min: 1, max: 4, step: 0.25 },
  blur: { type: 'number', min: 0.3, max: 100, step: 0.1 },
  sharpen: { type: 'number', min: 0.3, max: 10, step: 0.1 },
  trim: { type: 'number', min: 1, max: 254 },
  lossless: { type: 'checkbox' },
  progressive: { type: 'checkbox' },
  // JSON, not a picture: the page shows images only.
  meta: { type: 'none' },
};

function encodeKey(key) {
  return key.split('/').map(encodeURIComponent).join('/');
}

function query(values) {
  const parts = [];
  for (const [name, value] of Object.entries(values)) {
    if (value !== '' && value !== false) parts.push(name + '=' + encodeURIComponent(value === true ? 'true' : value));
  }
  return parts.length ? '?' + parts.join('&') : '';
}

function buildControls(params, maxDimension) {
  const form = $('#params');
  for (const param of params) {
    const spec = CONTROLS[param.name] || { type: 'text' };
    if (spec.type === 'none') continue;
    const label = document.createElement('label');
    label.textContent = param.name;
    if (param.help) label.title = param.help;
    let input;
    if (spec.type === 'select') {
      input = document.createElement('select');
      for (const option of spec.options) input.add(new Option(option || '(auto)', option));
    } else {
      input = document.createElement('input');
      input.type = spec.type;
      if (spec.min !== undefined) input.min = spec.min;
      if (spec.max !== undefined) input.max = spec.max;
      if (spec.step !== undefined) input.step = spec.step;
      if ((param.name === 'w' || param.name === 'h') && maxDimension) input.max = maxDimension;
    }
    input.name = param.name;
    input.id = 'param-' + param.name;
    label.appendChild(input);
    form.appendChild(label);
  }
  state.values = { w: '320' };
  $('#param-w').value = '320';
  form.addEventListener('input', () => {
    state.values = {};
    for (const element of form.elements) {
      state.values[element.name] = element.type === 'checkbox' ? element.checked : element.value;
    }
    show();
  });
}

async function loadKeys() {
  const response = await fetch('/_imageflex/list?limit=50&after=' + encodeURIComponent(state.next));
  const page = await response.json();
  for (const key of page.keys) {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = key;
    button.addEventListener('click', () => {
      for (const other of document.querySelectorAll('#keys button')) other.setAttribute('aria-pressed', 'false');
      button.setAttribute('aria-pressed', 'true');
      state.key = key;
      show();
    });
    item.appendChild(button);
    $('#keys').appendChild(item);
  }
  state.next = page.next;
  $('#more').hidden = !page.next;
  if (!state.key && page.keys.length) $('#keys button').click();
}

// Fetches one URL into a figure: the picture, its bytes, type, size, time and cache outcome.
async function fill(figure, url, title) {
  const img = figure.querySelector('img');
  const caption = figure.querySelector('figcaption');
  const token = (figure.dataset.token = String(Math.random()));
  const started = performance.now();
  try {
    const response = await fetch(url);
    const blob = await response.blob();
    const ms = performance.now() - started;
    if (figure.dataset.token !== token) return;  // a newer request replaced this one
    if (!response.ok) {
      caption.className = 'error';
      caption.textContent = title + '\n' + response.status + ' ' + (await blob.text());
      img.removeAttribute('src');
      figure.dataset.type = '';
      return;
    }
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(blob);
    await img.decode();
    if (figure.dataset.token !== token) return;
    const type = response.headers.get('content-type') || '';
    figure.dataset.type = type;
    figure.dataset.width = img.naturalWidth;
    figure.dataset.height = img.naturalHeight;
    caption.className = '';
    caption.textContent = `${title}\n${type}, ${img.naturalWidth}×${img.naturalHeight}, ${blob.size.toLocaleString()} bytes\n` +
      `${ms.toFixed(0)} ms (${response.headers.get('x-cache') || ''})`;
  } catch (error) {
    caption.className = 'error';
    caption.textContent = title + '\n' + error;
  }
}

function show() {
  if (!state.key) return;
  const path = '/' + encodeKey(state.key);
  const url = path + query(state.values);
  $('#url').value = location.origin + url;
  fill($('#result'), url, 'result');
  fill($('#original'), path, 'original');
  for (const figure of document.querySelectorAll('figure[data-format]')) {
    const values = { ...state.values, f: figure.dataset.format };
    fill(figure, path + query(values), figure.dataset.format.toUpperCase());
  }
}

async function start() {
  const response = await fetch('/_imageflex/params');
  const table = await response.json();
  buildControls(table.params, table.max_dimension);
  $('#more').addEventListener('click', loadKeys);
  $('#copy').addEventListener('click', () => {
    $('#url').select();
    navigator.clipboard?.writeText($('#url').value);
  });
  await loadKeys();
}

start();
