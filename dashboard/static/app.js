/* Small behaviours of the dashboard pages. Our own code, no dependencies.
 * Listeners are delegated from document so they keep working after HTMX swaps. */
(function () {
  "use strict";

  function gutterFor(textarea) {
    var editor = textarea.closest(".editor");
    return editor ? editor.querySelector(".gutter") : null;
  }

  // Keep the line numbers in step with the text while the server check is on its way.
  function syncGutter(textarea) {
    var gutter = gutterFor(textarea);
    if (!gutter) return;
    var lines = textarea.value.split("\n").length;
    var have = gutter.children.length;
    for (var n = have + 1; n <= lines; n++) {
      var div = document.createElement("div");
      div.className = "ln";
      div.dataset.line = String(n);
      div.textContent = String(n);
      gutter.appendChild(div);
    }
    while (gutter.children.length > lines && gutter.lastChild) gutter.removeChild(gutter.lastChild);
    gutter.scrollTop = textarea.scrollTop;
  }

  function goToLine(line) {
    var textarea = document.querySelector("textarea[data-editor]");
    if (!textarea) return;
    var lines = textarea.value.split("\n");
    var start = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
    var end = start + (lines[line - 1] || "").length;
    textarea.focus();
    textarea.setSelectionRange(start, end);
    var lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 18;
    textarea.scrollTop = Math.max(0, (line - 3) * lineHeight);
    syncGutter(textarea);
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("textarea[data-editor]")) syncGutter(event.target);
  });
  document.addEventListener("scroll", function (event) {
    if (event.target.matches && event.target.matches("textarea[data-editor]")) syncGutter(event.target);
  }, true);
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Tab" && !event.shiftKey && target.matches && target.matches("textarea[data-editor]")) {
      // YAML is indented with spaces: Tab inserts two (Esc then Tab leaves the editor).
      if (target.dataset.tabEscape === "1") { target.dataset.tabEscape = ""; return; }
      event.preventDefault();
      var start = target.selectionStart;
      target.setRangeText("  ", start, target.selectionEnd, "end");
      target.dispatchEvent(new Event("input", { bubbles: true }));
    } else if (event.key === "Escape" && target.matches && target.matches("textarea[data-editor]")) {
      target.dataset.tabEscape = "1";
    }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-goto-line]");
    if (button) goToLine(parseInt(button.dataset.gotoLine, 10));
  });

  // The run page's live answers: each "tokens" event of its stream is {node, text}, the
  // next piece of that node's answer; the node's box fills as they arrive.
  function liveBox(section, node) {
    var boxes = section.querySelector(".live-nodes");
    var found = null;
    boxes.querySelectorAll("[data-live-node]").forEach(function (box) {
      if (box.dataset.liveNode === node) found = box;
    });
    if (found) return found.querySelector("pre");
    var figure = document.createElement("figure");
    figure.className = "live-node";
    figure.dataset.liveNode = node;
    var caption = document.createElement("figcaption");
    caption.textContent = node;
    var pre = document.createElement("pre");
    pre.className = "code";
    figure.appendChild(caption);
    figure.appendChild(pre);
    boxes.appendChild(figure);
    return pre;
  }
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    var section = event.target;
    if (!section || section.id !== "run-tokens") return;
    event.preventDefault();  // not HTML to swap: text to append
    var piece;
    try { piece = JSON.parse(event.detail.data); } catch (error) { return; }
    section.hidden = false;
    liveBox(section, String(piece.node)).textContent += piece.text;
  });

  function afterNavigation() {
    if (location.hash === "#run") {
      var field = document.querySelector("#run-form textarea, #run-form input:not([type=hidden]), #run-form select, #run-form button");
      if (field) field.focus();
    }
    var textarea = document.querySelector("textarea[data-editor]");
    if (textarea) syncGutter(textarea);
  }
  document.addEventListener("DOMContentLoaded", afterNavigation);
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target && event.target.id === "main") afterNavigation();
  });
})();
