// What every console page does in the browser (no inline script: the pages' CSP forbids it).
// Without this file the pages still work: the menu is simply always open, tables keep their
// columns' headers, and a wide region scrolls as before.
(function () {
  "use strict";

  // The menu of a phone: a button that opens and closes the navigation (aria-expanded says
  // which); Escape closes it and gives the focus back to the button.
  function menu() {
    var bar = document.querySelector(".topbar");
    var button = bar && bar.querySelector("button.menu-toggle");
    var nav = bar && document.getElementById(button ? button.getAttribute("aria-controls") : "");
    if (!button || !nav) return;
    function set(open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      bar.classList.toggle("menu-open", open);
    }
    bar.classList.add("has-menu");
    button.hidden = false;
    set(false);
    button.addEventListener("click", function () {
      set(button.getAttribute("aria-expanded") !== "true");
    });
    bar.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
        set(false);
        button.focus();
      }
    });
  }

  // On a phone each row of a table becomes a card: every cell is labelled with its column's
  // header (data-label, shown by the CSS), unless the page labelled it already. The table's
  // roles are said explicitly, since some browsers drop them once a table is not laid out as
  // one.
  function label(root) {
    root.querySelectorAll("main table").forEach(function (table) {
      if (table.dataset.labelled) return;
      var head = table.tHead && table.tHead.rows[0];
      if (!head) return;
      var names = [];
      Array.prototype.forEach.call(head.cells, function (cell) {
        for (var i = 0; i < (cell.colSpan || 1); i++) names.push(cell.textContent.trim());
      });
      table.setAttribute("role", "table");
      Array.prototype.forEach.call(table.querySelectorAll(":scope > thead, :scope > tbody, :scope > tfoot"),
        function (group) { group.setAttribute("role", "rowgroup"); });
      Array.prototype.forEach.call(table.rows, function (row) {
        row.setAttribute("role", "row");
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          var inHead = row.parentNode === table.tHead;
          if (cell.tagName === "TH") {
            cell.setAttribute("role", inHead || cell.scope === "col" ? "columnheader" : "rowheader");
          } else {
            cell.setAttribute("role", "cell");
          }
          if (!inHead && !cell.hasAttribute("data-label") && names[column] && cell.colSpan < 2) {
            cell.setAttribute("data-label", names[column]);
          }
          column += cell.colSpan || 1;
        });
      });
      table.dataset.labelled = "true";
    });
  }

  // A region that scrolls (a wide table, a long preview) can be reached and scrolled by
  // keyboard: it takes the focus and is named after its heading.
  function scrollable(root) {
    root.querySelectorAll("main .table-wrap, main .chart-wrap, main pre").forEach(function (box) {
      var style = getComputedStyle(box);
      var scrolls = /(auto|scroll)/.test(style.overflowX + style.overflowY) &&
        (box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1);
      if (scrolls && !box.hasAttribute("tabindex")) {
        var section = box.closest("section, details, article") || document.querySelector("main");
        var heading = section.querySelector("h1, h2, h3, summary");
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", heading ? heading.textContent.trim() : document.title);
        box.dataset.scrolls = "true";
      } else if (!scrolls && box.dataset.scrolls) {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
        delete box.dataset.scrolls;
      }
    });
  }

  function everything(root) {
    label(root);
    scrollable(root);
  }

  document.addEventListener("DOMContentLoaded", function () {
    menu();
    everything(document);
  });
  // Parts htmx swaps in, and a window resized (a phone turned) or a <details> opened.
  document.addEventListener("htmx:afterSettle", function () { everything(document); });
  document.addEventListener("toggle", function () { scrollable(document); }, true);
  window.addEventListener("resize", function () { scrollable(document); });
})();
