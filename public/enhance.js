// Progressive enhancement of rendered Markdown: syntax highlighting, mermaid diagrams and
// copy buttons. The libraries (public/vendor/, copied from npm by frontend/copy-vendor.mjs)
// load only when a finished block contains code or a diagram, so the WASM stays small and
// pages without code pay nothing. Blocks still streaming (.md-tail) are left alone.
(function () {
  var loads = {};
  function load(src) {
    if (!loads[src]) {
      loads[src] = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = src;
        s.async = true;
        s.onload = resolve;
        s.onerror = reject;
        document.head.appendChild(s);
      });
    }
    return loads[src];
  }
  var diagramCount = 0;

  // Diagrams follow the page's theme (the `dark` class theme.js sets).
  function mermaidTheme() {
    return document.documentElement.classList.contains("dark") ? "dark" : "default";
  }
  var drawnTheme = null;
  new MutationObserver(function () {
    if (drawnTheme === null || drawnTheme === mermaidTheme()) return;
    // Drawn in the other theme: draw again from the source, which is kept.
    document.querySelectorAll(".md [data-mermaid][data-rendered]").forEach(function (el) {
      var figure = el.querySelector(".mermaid-svg");
      if (figure) figure.remove();
      var src = el.querySelector(".mermaid-src");
      if (src) src.hidden = false;
      delete el.dataset.rendered;
    });
    if (document.body) schedule(document.body);
  }).observe(document.documentElement, { attributes: true, attributeFilter: ["class"] });

  function enhance(root) {
    if (!root.querySelectorAll) return;
    var codes = Array.prototype.filter.call(
      root.querySelectorAll(".md .code-block code:not([data-highlighted])"),
      function (el) { return !el.closest(".md-tail"); }
    );
    if (codes.length) {
      load("/vendor/highlight.min.js").then(function () {
        codes.forEach(function (el) {
          if (!el.isConnected || el.dataset.highlighted) return;
          var lang = (el.className.match(/language-([\w+-]+)/) || [])[1];
          if (lang && lang !== "plaintext" && !window.hljs.getLanguage(lang)) return;
          window.hljs.highlightElement(el);
        });
      }, function () {});
    }
    var diagrams = Array.prototype.filter.call(
      root.querySelectorAll(".md [data-mermaid]:not([data-rendered])"),
      function (el) { return !el.closest(".md-tail"); }
    );
    if (diagrams.length) {
      load("/vendor/mermaid.min.js").then(function () {
        // "strict": mermaid sanitises labels and disables click handlers in diagrams.
        window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: mermaidTheme() });
        drawnTheme = mermaidTheme();
        diagrams.forEach(function (el) {
          if (!el.isConnected || el.dataset.rendered) return;
          el.dataset.rendered = "1";
          var src = el.querySelector(".mermaid-src");
          var id = "mermaid-" + ++diagramCount;
          window.mermaid.render(id, src ? src.textContent : "").then(function (out) {
            var figure = document.createElement("div");
            figure.className = "mermaid-svg";
            figure.setAttribute("role", "img");
            figure.setAttribute("aria-label", "Diagram");
            figure.innerHTML = out.svg;
            el.insertBefore(figure, src);
            if (src) src.hidden = true;
          }, function () {
            el.dataset.rendered = "error";
            var note = document.getElementById("d" + id);
            if (note) note.remove();
          });
        });
      }, function () {});
    }
  }

  var pending = [];
  var scheduled = false;
  function schedule(node) {
    pending.push(node);
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(function () {
      scheduled = false;
      var nodes = pending;
      pending = [];
      nodes.forEach(function (n) { if (n.isConnected) enhance(n); });
    });
  }
  new MutationObserver(function (records) {
    records.forEach(function (r) {
      r.addedNodes.forEach(function (n) { if (n.nodeType === 1) schedule(n); });
      if (r.target.nodeType === 1 && r.target.closest && r.target.closest(".md")) schedule(r.target);
    });
  }).observe(document.documentElement, { childList: true, subtree: true });
  if (document.body) schedule(document.body);
  else document.addEventListener("DOMContentLoaded", function () { schedule(document.body); });

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } finally { area.remove(); }
    return Promise.resolve();
  }
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest && ev.target.closest("[data-copy-code]");
    if (!button) return;
    var code = button.closest(".code-block").querySelector("code");
    copy(code ? code.textContent : "").then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    }, function () {
      button.textContent = "Copy failed";
    });
  });
})();
