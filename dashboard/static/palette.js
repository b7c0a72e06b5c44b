/* Command palette: Ctrl+K / Cmd+K opens a fuzzy finder over pages, workflows, recent runs
 * and actions (GET /api/v1/palette). Fully keyboard-usable: arrows move, Enter opens,
 * Escape closes. Our own code; every text is set with textContent, never as HTML. */
(function () {
  "use strict";

  var items = [];
  var loadedAt = 0;
  var results = [];
  var active = 0;
  var returnFocus = null;
  var MAX_RESULTS = 50;
  var KIND_LABEL = { page: "Page", workflow: "Workflow", run: "Run", action: "Action" };

  function el(id) { return document.getElementById(id); }

  /* Score how well `query` matches `text` as a subsequence: higher is better, -1 none.
   * Consecutive letters and letters at word starts score more; earlier matches too. */
  function fuzzyScore(query, text) {
    var q = query.toLowerCase(), t = text.toLowerCase();
    if (!q) return 0;
    var score = 0, ti = 0, run = 0, positions = [];
    for (var qi = 0; qi < q.length; qi++) {
      var c = q[qi];
      if (c === " ") { run = 0; continue; }
      var found = t.indexOf(c, ti);
      if (found < 0) return { score: -1, positions: [] };
      var atWordStart = found === 0 || /[\s\-_/.·]/.test(t[found - 1]);
      run = found === ti ? run + 1 : 1;
      score += 1 + run * 2 + (atWordStart ? 6 : 0) - Math.min(found - ti, 10) * 0.2;
      positions.push(found);
      ti = found + 1;
    }
    if (t.indexOf(q) >= 0) score += 20;  // the whole query as typed
    score -= t.length * 0.02;            // shorter titles first on ties
    return { score: score, positions: positions };
  }

  function search(query) {
    var scored = [];
    items.forEach(function (item, index) {
      if (!query) { scored.push({ item: item, score: -index, positions: [] }); return; }
      var onTitle = fuzzyScore(query, item.title);
      var onKind = fuzzyScore(query, (KIND_LABEL[item.kind] || "") + " " + item.title);
      var onSubtitle = fuzzyScore(query, item.subtitle || "");
      var best = onTitle;
      if (onKind.score > best.score) best = { score: onKind.score - 2, positions: [] };
      if (onSubtitle.score - 8 > best.score) best = { score: onSubtitle.score - 8, positions: [] };
      if (best.score >= 0) scored.push({ item: item, score: best.score, positions: best.positions });
    });
    scored.sort(function (a, b) { return b.score - a.score; });
    return scored.slice(0, MAX_RESULTS);
  }

  function highlighted(text, positions) {
    var fragment = document.createDocumentFragment();
    var marks = {};
    positions.forEach(function (p) { marks[p] = true; });
    var buffer = "";
    var inMark = false;
    function flush() {
      if (!buffer) return;
      if (inMark) { var m = document.createElement("mark"); m.textContent = buffer; fragment.appendChild(m); }
      else fragment.appendChild(document.createTextNode(buffer));
      buffer = "";
    }
    for (var i = 0; i < text.length; i++) {
      var want = !!marks[i];
      if (want !== inMark) { flush(); inMark = want; }
      buffer += text[i];
    }
    flush();
    return fragment;
  }

  function render() {
    var list = el("palette-list"), input = el("palette-input");
    list.textContent = "";
    if (!results.length) {
      var empty = document.createElement("li");
      empty.className = "palette-empty";
      empty.setAttribute("role", "presentation");
      empty.textContent = items.length ? "Nothing matches." : "Loading…";
      list.appendChild(empty);
      input.removeAttribute("aria-activedescendant");
      return;
    }
    results.forEach(function (result, index) {
      var li = document.createElement("li");
      li.id = "palette-option-" + index;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", index === active ? "true" : "false");
      li.dataset.url = result.item.url;
      li.dataset.kind = result.item.kind;
      var kind = document.createElement("span");
      kind.className = "palette-kind kind-" + result.item.kind;
      kind.textContent = KIND_LABEL[result.item.kind] || result.item.kind;
      var title = document.createElement("span");
      title.className = "palette-title";
      title.appendChild(highlighted(result.item.title, result.positions));
      var subtitle = document.createElement("span");
      subtitle.className = "palette-subtitle";
      subtitle.textContent = result.item.subtitle || "";
      li.appendChild(kind); li.appendChild(title); li.appendChild(subtitle);
      li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(index); });
      list.appendChild(li);
    });
    input.setAttribute("aria-activedescendant", "palette-option-" + active);
    var current = el("palette-option-" + active);
    if (current && current.scrollIntoView) current.scrollIntoView({ block: "nearest" });
  }

  function update() {
    results = search(el("palette-input").value.trim());
    active = 0;
    render();
  }

  function load() {
    if (Date.now() - loadedAt < 10000 && items.length) return Promise.resolve();
    return fetch("/api/v1/palette", { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (data) { items = data; loadedAt = Date.now(); })
      .catch(function () { /* keep what we had; the list says so */ });
  }

  function isOpen() { var box = el("palette"); return box && !box.hidden; }

  function open() {
    var box = el("palette");
    if (!box || isOpen()) return;
    returnFocus = document.activeElement;
    box.hidden = false;
    var input = el("palette-input");
    input.value = "";
    input.focus();
    update();
    load().then(function () { if (isOpen()) update(); });
  }

  function close(restore) {
    var box = el("palette");
    if (!box || !isOpen()) return;
    box.hidden = true;
    if (restore !== false && returnFocus && returnFocus.focus) returnFocus.focus();
  }

  function navigate(url) {
    // Go through HTMX so the page swaps in place and the URL is pushed (Back works).
    if (window.htmx) {
      var link = document.createElement("a");
      link.href = url;
      link.hidden = true;
      document.body.appendChild(link);
      window.htmx.process(link);
      link.click();
      link.remove();
    } else {
      window.location.assign(url);
    }
  }

  function choose(index) {
    var result = results[index];
    if (!result) return;
    close(false);
    navigate(result.item.url);
  }

  document.addEventListener("keydown", function (event) {
    var key = event.key;
    if ((event.ctrlKey || event.metaKey) && !event.altKey && (key === "k" || key === "K")) {
      event.preventDefault();
      if (isOpen()) close(); else open();
      return;
    }
    if (!isOpen()) return;
    if (key === "Escape") { event.preventDefault(); close(); }
    else if (key === "ArrowDown") { event.preventDefault(); if (results.length) { active = (active + 1) % results.length; render(); } }
    else if (key === "ArrowUp") { event.preventDefault(); if (results.length) { active = (active - 1 + results.length) % results.length; render(); } }
    else if (key === "Home" && event.ctrlKey) { event.preventDefault(); active = 0; render(); }
    else if (key === "End" && event.ctrlKey) { event.preventDefault(); active = Math.max(0, results.length - 1); render(); }
    else if (key === "Enter") { event.preventDefault(); choose(active); }
    else if (key === "Tab") { event.preventDefault(); el("palette-input").focus(); }  // focus stays in the dialog
  });

  document.addEventListener("input", function (event) {
    if (event.target && event.target.id === "palette-input") update();
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-palette-open]")) { open(); return; }
    var box = el("palette");
    if (isOpen() && event.target === box) close();  // a click on the backdrop
  });

  window.configurableAgentsPalette = { open: open, close: close, fuzzyScore: fuzzyScore };
})();
