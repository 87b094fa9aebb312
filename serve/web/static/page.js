// khulasa's page behaviour. Listeners are delegated to the document, so they survive every
// re-render of the results; no untrusted text is ever written as HTML here (textContent only).
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const narrow = () => window.matchMedia('(max-width: 700px)').matches;
  const ids = el => (el.dataset.sources !== undefined ? el.dataset.sources : el.dataset.seg || '')
    .split(' ').filter(Boolean);

  // Light up sentence pairs (and the element the reader acted on); optionally open them on a
  // phone and scroll the first into view.
  const mark = (segs, self, reveal) => {
    $$('.kh-hl').forEach(e => e.classList.remove('kh-hl'));
    if (self) self.classList.add('kh-hl');
    let first = null;
    segs.forEach(i => $$('#kh-results [data-seg="' + i + '"]').forEach(e => {
      e.classList.add('kh-hl');
      if (e.classList.contains('kh-pair')) {
        first = first || e;
        if (reveal && narrow()) open(e, true);
      }
    }));
    if (reveal && first) {
      const smooth = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
      first.scrollIntoView({block: 'center', behavior: smooth ? 'smooth' : 'auto'});
      const en = $('.kh-en', first);
      if (en) en.focus({preventScroll: true});
    }
  };
  const open = (pair, yes) => {
    pair.classList.toggle('kh-open', yes);
    const t = $('.kh-ar-toggle', pair);
    if (t) t.setAttribute('aria-expanded', String(yes));
  };

  const act = el => {
    if (el.classList.contains('kh-ar-toggle')) {
      const pair = el.closest('.kh-pair');
      open(pair, !pair.classList.contains('kh-open'));
      mark([pair.dataset.seg], null, false);
    } else if (el.classList.contains('kh-cite')) {
      mark(ids(el), el.closest('.kh-point'), true);
      jumped(el);
    } else if (el.classList.contains('kh-next')) {
      nextToCheck();
    } else if (el.classList.contains('kh-point')) {
      mark(ids(el), el, false);
    } else if (el.classList.contains('kh-seg')) {
      const pair = el.closest('.kh-pair');
      if (narrow() && el.classList.contains('kh-en')) open(pair, true);
      mark([el.dataset.seg], el, false);
    } else if (el.dataset.copy) {
      copy(el);
    } else if (el.dataset.view) {
      view(el.dataset.view);
    }
  };
  const BUTTONS = '#kh-results .kh-cite, #kh-results .kh-ar-toggle, #kh-results [data-copy], '
    + '#kh-results [data-view], #kh-results .kh-next';

  // Where floating controls go: inside Gradio's scope, where page.css (phone rules too) applies.
  const host = () => $('.gradio-container .contain') || document.body;

  // A citation jump is a step in the browser's history (#sentence-N), with a way back: the
  // "Back to ..." button, or the browser's Back, returns to the chip that was followed.
  let from = null;
  const back = () => {
    let btn = $('#kh-back');
    if (!btn) {
      btn = document.createElement('button');
      btn.type = 'button'; btn.id = 'kh-back'; btn.className = 'kh-back kh-noprint';
      btn.addEventListener('click', () => history.back());
      host().appendChild(btn);
    }
    return btn;
  };
  const jumped = (chip, hash) => {
    from = chip;
    const bar = $('#kh-walk');  // a jump from a chip leaves the walk
    if (bar) bar.hidden = true;
    const first = ids(chip)[0];
    if (hash) history.pushState({kh: 'jump'}, '', hash);
    else if (first !== undefined) history.pushState({kh: 'jump'}, '', '#sentence-' + (Number(first) + 1));
    const point = chip.closest('.kh-point');
    const list = point ? point.closest('.kh-points') : null;
    const n = list ? $$(':scope > .kh-point', list).indexOf(point) + 1 : 0;
    const btn = back();
    btn.textContent = n ? 'Back to key point ' + n
      : chip.closest('#kh-check') ? 'Back to the sentences to check' : 'Back to where you were';
    btn.hidden = false;
  };
  window.addEventListener('popstate', () => {
    const btn = $('#kh-back');
    if (btn) btn.hidden = true;
    if (from && document.contains(from)) {
      from.scrollIntoView({block: 'center'});
      from.focus({preventScroll: true});
    }
    from = null;
  });

  // "Next to check": the marked sentences one after another, in the check list's order (the
  // most harmful warning first), from the one selected now. Once started, a small bar stays
  // in view wherever the reader is ("2 of 4", previous, next, done), reachable by keyboard.
  const walkBar = () => {
    let bar = $('#kh-walk');
    if (!bar) {
      bar = document.createElement('div');
      bar.id = 'kh-walk'; bar.className = 'kh-walk kh-noprint'; bar.hidden = true;
      bar.setAttribute('role', 'toolbar'); bar.setAttribute('aria-label', 'Sentences to check');
      const where = document.createElement('span');
      where.className = 'kh-walk-where'; where.setAttribute('aria-live', 'polite');
      const button = (cls, label, fn) => {
        const b = document.createElement('button');
        b.type = 'button'; b.className = cls; b.textContent = label;
        b.addEventListener('click', fn);
        return b;
      };
      bar.append(where, button('kh-walk-prev', 'Previous', () => walk(-1)),
        button('kh-walk-next', 'Next', () => walk(1)),
        button('kh-walk-done', 'Done', () => { bar.hidden = true; }));
      host().appendChild(bar);
    }
    return bar;
  };
  const walk = step => {
    const items = $$('#kh-check .kh-check-list li');
    const marked = items.map(li => $('#kh-results .kh-pair[data-seg="'
      + $('.kh-cite', li).dataset.sources + '"]'));
    if (!marked.length || marked.some(p => !p)) return;
    const now = marked.findIndex(p => p.classList.contains('kh-hl'));
    const k = now < 0 ? (step > 0 ? 0 : marked.length - 1)
      : (now + step + marked.length) % marked.length;
    const pair = marked[k];
    mark([pair.dataset.seg], null, true);
    const reason = items[k].textContent.replace(/^\s*\d+\s*/, '').trim();
    const said = 'Sentence ' + (Number(pair.dataset.seg) + 1) + ': ' + reason + ' · '
      + (k + 1) + ' of ' + marked.length + ' to check';
    const bar = walkBar();
    $('.kh-walk-where', bar).textContent = said;
    bar.hidden = false;
    const back = $('#kh-back');  // one floating control at a time
    if (back) back.hidden = true;
    const where = $('#kh-next-where');
    if (where) where.textContent = said;
  };
  const nextToCheck = () => walk(1);
  // "Use “Kerry” everywhere" under a name that differs: the reading area sends the line to
  // the server (WORDINGS_JS), which adds it to the pinned spellings; here the button says so.
  const pinSpelling = btn => {
    btn.textContent = 'Pinned (Options): translate again to use it';
    btn.setAttribute('aria-disabled', 'true');
  };
  document.addEventListener('click', ev => {
    const t = ev.target;
    if (!t.closest) return;
    const pin = t.closest('.kh-pin');
    if (pin) { pinSpelling(pin); return; }
    if (t.closest('#kh-run, #kh-example, #kh-drun, #kh-dexample')) started = Date.now();
    const el = t.closest(BUTTONS) || t.closest('#kh-results .kh-seg, #kh-results .kh-point');
    if (el) act(el);
  });
  document.addEventListener('keydown', ev => {
    if (ev.key !== 'Enter' && ev.key !== ' ') return;
    const el = ev.target.closest && ev.target.closest('#kh-results .kh-seg, #kh-results .kh-point');
    if (el && ev.target === el) { ev.preventDefault(); act(el); }
  });
  // Hover previews a pair without moving the reader's selection (click, keys, citations).
  document.addEventListener('mouseover', ev => {
    const el = ev.target.closest && ev.target.closest('#kh-results .kh-seg');
    const seg = el ? el.dataset.seg : null;
    $$('.kh-hover').forEach(e => { if (e.dataset.seg !== seg) e.classList.remove('kh-hover'); });
    if (el) $$('#kh-results .kh-seg[data-seg="' + seg + '"]').forEach(e => e.classList.add('kh-hover'));
  });
  document.addEventListener('focusin', ev => {
    const el = ev.target.closest && ev.target.closest('#kh-results .kh-seg');
    if (el && ev.target === el) mark([el.dataset.seg], el, false);
  });

  // The Coverage tab: a chip or an "only in" sentence lights its source sentences (document
  // k, sentence i, as "k:i"), opening that article's folded pairs and scrolling to the first.
  const markDigest = (keys, self, reveal) => {
    $$('#kh-digest .kh-hl').forEach(e => e.classList.remove('kh-hl'));
    if (self) self.classList.add('kh-hl');
    let first = null;
    keys.forEach(key => {
      const [doc, seg] = key.split(':');
      const pair = $('#kh-digest .kh-pair[data-doc="' + doc + '"][data-seg="' + seg + '"]');
      if (!pair) return;
      pair.classList.add('kh-hl');
      first = first || pair;
      if (reveal) {
        const article = pair.closest('details');
        if (article) article.open = true;
        if (narrow()) open(pair, true);
      }
    });
    if (reveal && first) {
      const smooth = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
      first.scrollIntoView({block: 'center', behavior: smooth ? 'smooth' : 'auto'});
      const en = $('.kh-en', first);
      if (en) en.focus({preventScroll: true});
    }
  };
  document.addEventListener('click', ev => {
    const t = ev.target;
    if (!t.closest || !t.closest('#kh-digest')) return;
    const chip = t.closest('.kh-dcite');
    const toggle = t.closest('.kh-ar-toggle');
    const point = t.closest('.kh-dpoint');
    if (chip) {  // a step in the browser's history too, with a way back
      markDigest([chip.dataset.doc + ':' + chip.dataset.seg], point, true);
      jumped(chip, '#coverage-' + chip.dataset.doc + '-' + (Number(chip.dataset.seg) + 1));
    }
    else if (toggle) { const pair = toggle.closest('.kh-pair'); open(pair, !pair.classList.contains('kh-open')); }
    else if (point) markDigest(point.dataset.sources.split(' ').filter(Boolean), point, false);
  });
  document.addEventListener('keydown', ev => {
    if (ev.key !== 'Enter' && ev.key !== ' ') return;
    const point = ev.target.closest && ev.target.closest('#kh-digest .kh-dpoint');
    if (point && ev.target === point) {
      ev.preventDefault();
      markDigest(point.dataset.sources.split(' ').filter(Boolean), point, true);
    }
  });

  // English only / bilingual: the reader's choice, kept on the results' container (which
  // Gradio keeps across re-renders; `attributes` puts it back if it is ever replaced).
  let current = 'bilingual';
  try { current = localStorage.getItem('khulasa-view') || 'bilingual'; } catch (e) { /* none */ }
  const view = v => {
    current = v;
    try { localStorage.setItem('khulasa-view', v); } catch (e) { /* private mode */ }
    sync();
  };
  const sync = () => {
    const results = $('#kh-results');
    if (results && results.dataset.khView !== current) results.dataset.khView = current;
    $$('#kh-results [data-view]').forEach(b => {
      const pressed = String(b.dataset.view === current);
      if (b.getAttribute('aria-pressed') !== pressed) b.setAttribute('aria-pressed', pressed);
    });
  };

  // Copy: what the server wrote for each copy (models/copies.py), as plain text and as HTML
  // (an email keeps the marks): numbered sentences, a marker and the reason on every marked
  // one, where the article came from and how many sentences to check.
  const copy = async btn => {
    const what = btn.dataset.copy;
    const plain = $('#kh-results [data-plain="' + what + '"]');
    const html = $('#kh-results [data-html="' + what + '"]');
    if (!plain) return;
    const out = plain.textContent;
    let ok = false;
    try {
      if (window.ClipboardItem && html) {
        await navigator.clipboard.write([new ClipboardItem({
          'text/plain': new Blob([out], {type: 'text/plain'}),
          'text/html': new Blob([html.innerHTML], {type: 'text/html'}),
        })]);
      } else {
        await navigator.clipboard.writeText(out);
      }
      ok = true;
    } catch (e) {
      const area = document.createElement('textarea');  // plain http: no clipboard API
      area.value = out; document.body.appendChild(area); area.select();
      try { ok = document.execCommand('copy'); } catch (e2) { ok = false; }
      area.remove();
    }
    const label = btn.dataset.label || btn.textContent;
    btn.dataset.label = label;
    btn.textContent = ok ? 'Copied' : 'Copy failed: select the text instead';
    setTimeout(() => { btn.textContent = label; }, 1600);
  };

  // Elapsed time while a run is going; the character count under the input; attributes
  // Gradio does not let us set (lang, dir, live region) on its own elements.
  let started = 0;
  const tick = () => {
    $$('#kh-status [data-state="running"], #kh-dstatus [data-state="running"]').forEach(running => {
      const el = $('.kh-elapsed', running);
      if (el && started) el.textContent = ((Date.now() - started) / 1000).toFixed(1) + ' s';
    });
    const area = $('#kh-input textarea');
    const count = $('#kh-count .kh-count');
    if (area && count && count.dataset.shown !== String(area.value.length)) {
      const lastLength = area.value.length;
      count.dataset.shown = String(lastLength);
      const max = Number(count.dataset.max);
      count.textContent = lastLength.toLocaleString('en') + ' of ' + max.toLocaleString('en')
        + ' characters' + (lastLength > max ? ': too long for this server, paste the first part' : '');
      count.classList.toggle('kh-over', lastLength > max);
    }
  };
  const attributes = () => {
    const area = $('#kh-input textarea');
    if (area && area.getAttribute('lang') !== 'ar') {
      area.setAttribute('lang', 'ar'); area.setAttribute('dir', 'auto');
    }
    $$('#kh-status, #kh-dstatus').forEach(status => {
      if (!status.hasAttribute('aria-live')) {
        status.setAttribute('role', 'status'); status.setAttribute('aria-live', 'polite');
      }
    });
    const box = $('#kh-recent');
    if (box && !box.dataset.filled) { box.dataset.filled = '1'; showRecent(); }
    const pasted = $('#kh-dinput textarea');
    if (pasted && pasted.getAttribute('dir') !== 'auto') pasted.setAttribute('dir', 'auto');
    sync();
  };
  // A finished digest is below the inputs: bring its key points into view once.
  let digestShown = null;
  const reveal = () => {
    const done = $('#kh-dstatus [data-state="done"]');
    const card = $('#kh-digest-summary');
    if (done && card && digestShown !== card) {
      digestShown = card;
      card.scrollIntoView({block: 'start'});
    }
  };
  // An error is where the status goes, above the fold on a desktop but not on a phone: bring
  // each new one into view and give it focus, so Translate never seems to do nothing.
  let errorShown = null;
  const showError = () => {
    const err = $('#kh-status .kh-error, #kh-dstatus .kh-error');
    if (err && errorShown !== err) {
      errorShown = err;
      err.setAttribute('tabindex', '-1');
      err.scrollIntoView({block: 'center'});
      err.focus({preventScroll: true});
    }
  };
  // Other wordings open (or change) under their sentence: into view and focused, so a
  // keyboard or screen-reader user lands on them (the server renders them; see wordings_box).
  let wordingsShown = null;
  const showWordings = () => {
    const panel = $('#kh-wordings');
    if (panel && wordingsShown !== panel) {
      wordingsShown = panel;
      panel.scrollIntoView({block: 'nearest'});
      panel.focus({preventScroll: true});
    }
  };
  // A kept result has an address (?r=ID, from the server): the URL names it, so a reload, a
  // Back past the jumps or a colleague with the link shows it again; a #sentence-N address
  // lights that sentence once; and this browser lists the reader's recent articles (titles,
  // times, what to check), which the reader can clear. Nothing when the server keeps none.
  const RECENT = 'khulasa-recent';
  const recentList = () => {
    try { return JSON.parse(localStorage.getItem(RECENT) || '[]').filter(x => x && x.id); }
    catch (e) { return []; }
  };
  const showRecent = () => {
    const box = $('#kh-recent');
    if (!box) return;
    const list = recentList();
    box.hidden = !list.length;
    $('.kh-recent-list', box).replaceChildren(...list.map(x => {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = '?r=' + encodeURIComponent(x.id);
      a.textContent = String(x.title || 'Untitled');
      const about = document.createElement('span');
      about.className = 'kh-recent-about';
      about.textContent = ' · ' + new Date(x.time).toLocaleString() + ' · ' + String(x.check || '');
      li.append(a, about);
      return li;
    }));
  };
  let keptShown = null;
  let hashShown = false;
  const kept = () => {
    const r = $('#kh-results .kh-results[data-result]');
    if (!r) return;
    const id = r.dataset.result;
    if (keptShown === id + r.dataset.check) return;
    keptShown = id + r.dataset.check;
    const url = new URL(location.href);
    if (url.searchParams.get('r') !== id) {
      url.searchParams.set('r', id);
      history.replaceState(history.state, '', url);
    }
    const list = recentList().filter(x => x.id !== id);
    list.unshift({id, title: r.dataset.title, check: r.dataset.check, time: Date.now()});
    try { localStorage.setItem(RECENT, JSON.stringify(list.slice(0, 20))); } catch (e) { /* private */ }
    showRecent();
    const m = /^#sentence-(\d+)$/.exec(location.hash);
    if (m && !hashShown) {
      hashShown = true;
      mark([String(Number(m[1]) - 1)], null, true);
    }
  };
  document.addEventListener('click', ev => {
    if (!ev.target.closest || !ev.target.closest('.kh-recent-clear')) return;
    try { localStorage.removeItem(RECENT); } catch (e) { /* private mode */ }
    showRecent();
  });

  // A phone's first screen is the news once a result is shown: the intro folds to its name.
  const fold = () => {
    const intro = $('.kh-intro');
    const shown = Boolean($('#kh-results .kh-headline'));
    if (intro && intro.classList.contains('kh-folded') !== shown) intro.classList.toggle('kh-folded', shown);
  };

  // A new result (or none) ends a walk through the last one's sentences.
  const endWalk = () => {
    const bar = $('#kh-walk');
    if (bar && !bar.hidden && !$('#kh-check .kh-check-list')) bar.hidden = true;
  };
  setInterval(() => { tick(); reveal(); showError(); showWordings(); endWalk(); kept(); fold(); }, 200);
  new MutationObserver(attributes).observe(document.documentElement, {childList: true, subtree: true});
})();
